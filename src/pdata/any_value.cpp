#include "pdata/any_value.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <string_view>

#include "opentelemetry/proto/common/v1/common.pb.h"

namespace otelite {

namespace {

using opentelemetry::proto::common::v1::AnyValue;

std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(n >> s) & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
  }
  return out;
}

nlohmann::json ToJson(const AnyValue& v) {
  switch (v.value_case()) {
    case AnyValue::kStringValue: return v.string_value();
    case AnyValue::kBoolValue: return v.bool_value();
    case AnyValue::kIntValue: return v.int_value();
    case AnyValue::kDoubleValue: return v.double_value();
    case AnyValue::kBytesValue: return Base64(v.bytes_value());
    case AnyValue::kArrayValue: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& e : v.array_value().values()) a.push_back(ToJson(e));
      return a;
    }
    case AnyValue::kKvlistValue: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : v.kvlist_value().values()) o[kv.key()] = ToJson(kv.value());
      return o;
    }
    default: return nullptr;
  }
}

}  // namespace

std::string AnyValueAsString(const AnyValue& v) {
  switch (v.value_case()) {
    case AnyValue::kStringValue: return v.string_value();
    case AnyValue::kBoolValue: return v.bool_value() ? "true" : "false";
    case AnyValue::kIntValue: return std::to_string(v.int_value());
    case AnyValue::kDoubleValue: return FormatDouble(v.double_value());
    case AnyValue::kBytesValue: return Base64(v.bytes_value());
    case AnyValue::kArrayValue:
    case AnyValue::kKvlistValue:
      return ToJson(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    default: return {};
  }
}

}  // namespace otelite
