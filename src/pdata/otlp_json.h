#pragma once
#include <string>
#include <string_view>

#include "core/signal.h"

namespace google::protobuf {
class Message;
}

namespace otelite {

// OTLP/JSON as the OTLP specification defines it, on top of protobuf's JSON mapping:
//  - trace_id, span_id and parent_span_id are hex strings (protobuf's mapping would use base64);
//  - enums are written as integers (names are accepted on input);
//  - keys are lowerCamelCase on output; the original snake_case names are accepted on input;
//  - 64-bit integers are written as decimal strings and accepted as strings or numbers;
//  - unknown fields are ignored on input, as the specification asks of receivers.
// Both return an empty string on success, else what went wrong.
std::string DecodeOtlpJson(std::string_view json, google::protobuf::Message* out);
// Fails (and leaves `out` empty) for a message nested deeper than protobuf's JSON printer goes
// (an AnyValue of about 30 nested arrays or maps), never returning truncated JSON.
std::string EncodeOtlpJson(const google::protobuf::Message& message, std::string* out);

// Lowercase hex of raw id bytes, as OTLP/JSON writes trace and span ids.
std::string HexId(std::string_view raw);

}  // namespace otelite
