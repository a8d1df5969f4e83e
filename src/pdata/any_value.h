#pragma once
// The string form of an OTLP AnyValue, as otelcol's pcommon.Value.AsString writes it: strings as
// they are, integers and doubles in decimal (no exponent; NaN, +Inf, -Inf), booleans as
// true/false, bytes in base64, arrays and maps as JSON (map keys sorted, invalid UTF-8 replaced),
// an empty value as "". Used where a format has no place for a structured value (Prometheus
// labels, Jaeger tags).
#include <string>

namespace opentelemetry::proto::common::v1 {
class AnyValue;
}

namespace otelite {

std::string AnyValueAsString(const opentelemetry::proto::common::v1::AnyValue& value);

}  // namespace otelite
