#include "pdata/otlp_json.h"

#include <google/protobuf/message.h>
#include <google/protobuf/stubs/strutil.h>
#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

namespace otelite {

namespace {

// The only `bytes` fields of OTLP that the specification encodes as hex; other bytes fields
// (AnyValue.bytes_value) keep protobuf's base64. In OTLP/JSON, object keys are always field
// names (attribute names are values of a "key" field), so matching on the key is exact.
bool IsIdKey(std::string_view key) {
  return key == "traceId" || key == "spanId" || key == "parentSpanId" || key == "trace_id" ||
         key == "span_id" || key == "parent_span_id";
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// hex -> raw bytes; false when `hex` is not an even-length hex string.
bool HexDecode(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexValue(hex[i]), lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(char(hi << 4 | lo));
  }
  return true;
}

// Rewrites id fields in place: hex -> base64 (decode direction) or base64 -> hex (encode).
// Returns an error text for an id that is not valid hex.
template <class Json>
std::string RewriteIds(Json& j, bool hex_to_base64) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (IsIdKey(it.key()) && it.value().is_string()) {
        const std::string& text = it.value().template get_ref<const std::string&>();
        if (hex_to_base64) {
          std::string raw;
          if (!HexDecode(text, &raw)) {
            return "field " + it.key() + ": \"" + text + "\" is not a hex-encoded id";
          }
          size_t want = it.key().rfind("trace", 0) == 0 ? 16 : 8;
          if (!raw.empty() && raw.size() != want) {
            return "field " + it.key() + ": an id of " + std::to_string(raw.size()) +
                   " bytes, expected " + std::to_string(want) + " (" +
                   std::to_string(want * 2) + " hex digits) or empty";
          }
          std::string b64;
          google::protobuf::Base64Escape(raw, &b64);
          it.value() = std::move(b64);
        } else {
          std::string raw;
          google::protobuf::Base64Unescape(text, &raw);
          it.value() = HexId(raw);
        }
      } else if (std::string err = RewriteIds(it.value(), hex_to_base64); !err.empty()) {
        return err;
      }
    }
  } else if (j.is_array()) {
    for (auto& item : j) {
      if (std::string err = RewriteIds(item, hex_to_base64); !err.empty()) return err;
    }
  }
  return {};
}

// OTLP nests deeply only through AnyValue; protobuf stops binary input at 100 levels. JSON is held
// to a similar bound before anything recursive (tree walks, protobuf's JSON parser) touches it.
constexpr size_t kMaxJsonDepth = 128;

// A SAX pass that validates the syntax and stops as soon as nesting passes kMaxJsonDepth.
class DepthCheck : public nlohmann::json_sax<nlohmann::json> {
 public:
  bool too_deep = false;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return Enter(); }
  bool key(string_t&) override { return true; }
  bool end_object() override { return Leave(); }
  bool start_array(std::size_t) override { return Enter(); }
  bool end_array() override { return Leave(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool Enter() {
    too_deep = ++depth_ > kMaxJsonDepth;
    return !too_deep;
  }
  bool Leave() {
    --depth_;
    return true;
  }
  size_t depth_ = 0;
};

}  // namespace

std::string DecodeOtlpJson(std::string_view json, google::protobuf::Message* out) {
  DepthCheck check;
  bool valid = nlohmann::json::sax_parse(json, &check, nlohmann::json::input_format_t::json,
                                         /*strict=*/true);
  if (check.too_deep) {
    return "the body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels";
  }
  if (!valid) return "the body is not valid JSON";
  nlohmann::json tree = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (tree.is_discarded()) return "the body is not valid JSON";
  if (!tree.is_object()) return "the body must be a JSON object";
  if (std::string err = RewriteIds(tree, true); !err.empty()) return err;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(tree.dump(), out, options);
  if (!status.ok()) return std::string(status.message());
  return {};
}

std::string HexId(std::string_view raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

namespace {

// Rewrites the base64 id values in protobuf's compact JSON output as hex, in one pass over the
// text, and checks that the text is complete (every string closed, every bracket matched): the
// printer gives up on deep nesting, and truncated JSON must never leave here. In that text a key
// is a string token followed by ':', and a '"' inside a string is always escaped, so a match on
// the key is exact (attribute names are values of a "key" field, never keys).
std::string RewriteIdsInText(const std::string& text, std::string* out) {
  out->clear();
  out->reserve(text.size() + text.size() / 8);
  const size_t n = text.size();
  size_t copied = 0;  // text[0, copied) is in *out
  long depth = 0;
  std::string raw;
  for (size_t i = 0; i < n; ++i) {
    char c = text[i];
    if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth < 0) return "protobuf's JSON printer produced invalid JSON";
    } else if (c == '"') {
      size_t end = i + 1;
      while (end < n && text[end] != '"') end += text[end] == '\\' ? 2 : 1;
      if (end >= n) return "protobuf's JSON printer produced invalid JSON";
      std::string_view token(text.data() + i + 1, end - i - 1);
      size_t colon = end + 1;
      if (colon + 1 < n && text[colon] == ':' && text[colon + 1] == '"' && IsIdKey(token)) {
        size_t value_end = text.find('"', colon + 2);
        if (value_end == std::string::npos) {
          return "protobuf's JSON printer produced invalid JSON";
        }
        raw.clear();
        google::protobuf::Base64Unescape(
            std::string_view(text.data() + colon + 2, value_end - colon - 2), &raw);
        out->append(text, copied, colon + 2 - copied);
        *out += HexId(raw);
        copied = value_end;
        i = value_end;
        continue;
      }
      i = end;
    }
  }
  if (depth != 0) return "protobuf's JSON printer produced invalid JSON";
  out->append(text, copied, std::string::npos);
  return {};
}

}  // namespace

std::string EncodeOtlpJson(const google::protobuf::Message& message, std::string* out) {
  out->clear();
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_enums_as_ints = true;
  options.preserve_proto_field_names = false;
  std::string text;
  auto status = google::protobuf::util::MessageToJsonString(message, &text, options);
  if (!status.ok()) return "cannot encode as OTLP/JSON: " + std::string(status.message());
  if (std::string err = RewriteIdsInText(text, out); !err.empty()) {
    out->clear();
    return err;
  }
  return {};
}

}  // namespace otelite
