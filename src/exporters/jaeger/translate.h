#pragma once
// OTLP traces → Jaeger's api_v2 model, after the OpenTelemetry specification's "OpenTelemetry to
// Jaeger Transformation" and the generic "mapping to non-OTLP formats" rules; where those leave a
// choice, as otelcol-contrib's pkg/translator/jaeger does it (README.md lists the mapping and the
// differences).
#include "pdata/payload.h"

namespace jaeger::api_v2 {
class Batch;
}

namespace otelite::exporters::jaeger {

// Tag and field names.
inline constexpr char kServiceNameAttr[] = "service.name";
inline constexpr char kDefaultServiceName[] = "unknown_service";
inline constexpr char kSpanKindTag[] = "span.kind";
inline constexpr char kStatusCodeTag[] = "otel.status_code";
inline constexpr char kStatusDescriptionTag[] = "otel.status_description";
inline constexpr char kErrorTag[] = "error";
inline constexpr char kScopeNameTag[] = "otel.scope.name";
inline constexpr char kScopeVersionTag[] = "otel.scope.version";
inline constexpr char kTraceStateTag[] = "w3c.tracestate";
inline constexpr char kDroppedAttributesTag[] = "otel.dropped_attributes_count";
inline constexpr char kDroppedEventsTag[] = "otel.dropped_events_count";
inline constexpr char kDroppedLinksTag[] = "otel.dropped_links_count";
inline constexpr char kEventField[] = "event";
inline constexpr char kRefTypeAttr[] = "opentracing.ref_type";

// Fills `out` with every span of `request`, in order. Jaeger's Batch has one process, so the
// spans of the first resource that has spans use Batch.process and the spans of any other
// resource carry their own Span.process (Jaeger's collector applies Batch.process only to spans
// without one): the whole request goes in one PostSpans call. Resources without spans are left
// out. Returns the number of spans.
size_t TracesToJaeger(const TracesRequest& request, ::jaeger::api_v2::Batch* out);

}  // namespace otelite::exporters::jaeger
