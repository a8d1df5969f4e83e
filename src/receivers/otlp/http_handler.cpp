#include "receivers/otlp/http_handler.h"

#include <google/protobuf/message.h>

#include <algorithm>

#include "google/rpc/status.pb.h"
#include "pdata/compression.h"
#include "pdata/otlp_json.h"

namespace otelite::receivers::otlp {

namespace {

constexpr int kGrpcInvalidArgument = 3;
constexpr int kGrpcNotFound = 5;
constexpr int kGrpcResourceExhausted = 8;
constexpr int kGrpcUnimplemented = 12;
constexpr int kGrpcUnavailable = 14;

constexpr char kProtobufType[] = "application/x-protobuf";
constexpr char kJsonType[] = "application/json";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "application/json; charset=utf-8" -> "application/json"
std::string MediaType(std::string_view content_type) {
  std::string t = Lower(content_type.substr(0, content_type.find(';')));
  t.erase(std::remove(t.begin(), t.end(), ' '), t.end());
  return t;
}

bool WildcardMatch(std::string_view pattern, std::string_view text) {
  auto star = pattern.find('*');
  if (star == std::string_view::npos) return pattern == text;
  std::string_view prefix = pattern.substr(0, star), suffix = pattern.substr(star + 1);
  return text.size() >= prefix.size() + suffix.size() && text.substr(0, prefix.size()) == prefix &&
         text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace

HttpHandler::HttpHandler(const HttpConfig& config, Intake& intake)
    : config_(config), intake_(intake) {}

std::optional<Signal> HttpHandler::SignalForPath(std::string_view path) const {
  if (path == config_.traces_url_path) return Signal::kTraces;
  if (path == config_.metrics_url_path) return Signal::kMetrics;
  if (path == config_.logs_url_path) return Signal::kLogs;
  return std::nullopt;
}

bool HttpHandler::OriginAllowed(std::string_view origin) const {
  if (!config_.cors || origin.empty()) return false;
  return std::any_of(config_.cors->allowed_origins.begin(), config_.cors->allowed_origins.end(),
                     [&](const std::string& p) { return WildcardMatch(p, origin); });
}

void HttpHandler::AddCors(const net::HttpRequest& request, net::HttpResponse& response) const {
  std::string_view origin = request.Header("origin");
  if (!OriginAllowed(origin)) return;
  response.Set("Access-Control-Allow-Origin", std::string(origin));
  response.Set("Vary", "Origin");
}

net::HttpResponse HttpHandler::Preflight(const net::HttpRequest& head) const {
  net::HttpResponse r;
  r.status = 204;
  std::string_view origin = head.Header("origin");
  if (!OriginAllowed(origin)) return r;  // no CORS headers: the browser refuses
  r.Set("Access-Control-Allow-Origin", std::string(origin));
  r.Set("Vary", "Origin");
  r.Set("Access-Control-Allow-Methods", "POST");
  std::string_view requested = head.Header("access-control-request-headers");
  if (!requested.empty()) {
    // Allow what was asked when every header is safelisted or configured.
    std::string allowed;
    bool all_allowed = true;
    std::string list = Lower(requested);
    size_t pos = 0;
    while (pos <= list.size()) {
      size_t comma = list.find(',', pos);
      std::string h = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      h.erase(std::remove(h.begin(), h.end(), ' '), h.end());
      if (!h.empty()) {
        bool ok = h == "content-type" || h == "content-encoding" || h == "accept" ||
                  h == "accept-language" || h == "content-language" ||
                  std::any_of(config_.cors->allowed_headers.begin(),
                              config_.cors->allowed_headers.end(), [&](const std::string& a) {
                                return a == "*" || Lower(a) == h;
                              });
        all_allowed = all_allowed && ok;
        allowed += (allowed.empty() ? "" : ", ") + h;
      }
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    if (all_allowed) r.Set("Access-Control-Allow-Headers", allowed);
  }
  if (config_.cors->max_age > 0) r.Set("Access-Control-Max-Age", std::to_string(config_.cors->max_age));
  return r;
}

net::HttpResponse HttpHandler::Error(int http_status, int grpc_code, const std::string& message,
                                     Encoding encoding, const net::HttpRequest& request) const {
  google::rpc::Status status;
  status.set_code(grpc_code);
  status.set_message(message);
  net::HttpResponse r;
  r.status = http_status;
  if (encoding == Encoding::kProtobuf) {
    r.Set("Content-Type", kProtobufType);
    r.body = status.SerializeAsString();
  } else {
    r.Set("Content-Type", kJsonType);
    (void)EncodeOtlpJson(status, &r.body);  // a flat Status always encodes
  }
  AddCors(request, r);
  return r;
}

HttpHandler::Encoding HttpHandler::ReplyEncoding(const net::HttpRequest& request) {
  return MediaType(request.Header("content-type")) == kProtobufType ? Encoding::kProtobuf
                                                                    : Encoding::kJson;
}

net::HttpResponse HttpHandler::Refusal(const Status& status, Encoding encoding,
                                       const net::HttpRequest& request) const {
  if (!status.retryable()) {
    return Error(400, kGrpcInvalidArgument, status.message(), encoding, request);
  }
  auto r = Error(503, kGrpcUnavailable, status.message(), encoding, request);
  auto seconds = (status.throttle().count() + 999) / 1000;
  if (seconds > 0) r.Set("Retry-After", std::to_string(seconds));
  return r;
}

net::HttpResponse HttpHandler::OnBodyTooLarge(const net::HttpRequest& head, uint64_t limit) {
  return Error(413, kGrpcResourceExhausted,
               "request body is over the limit of " + std::to_string(limit) + " bytes",
               ReplyEncoding(head), head);
}

std::optional<net::HttpResponse> HttpHandler::OnHeaders(const net::HttpRequest& head,
                                                        uint64_t& body_limit) {
  Encoding reply = ReplyEncoding(head);
  auto signal = SignalForPath(head.Path());
  if (!signal || !intake_.Serves(*signal)) {
    return Error(404, kGrpcNotFound, "no OTLP endpoint at " + std::string(head.Path()), reply,
                 head);
  }
  if (head.method == "OPTIONS" && config_.cors) return Preflight(head);
  if (head.method != "POST") {
    auto r = Error(405, kGrpcUnimplemented,
                   "method " + head.method + " is not allowed, supported: POST", reply, head);
    r.Set("Allow", "POST");
    return r;
  }
  std::string media = MediaType(head.Header("content-type"));
  if (media != kProtobufType && media != kJsonType) {
    return Error(415, kGrpcInvalidArgument,
                 "unsupported content type \"" + std::string(head.Header("content-type")) +
                     "\", supported: application/x-protobuf, application/json",
                 Encoding::kJson, head);
  }
  std::string encoding = Lower(head.Header("content-encoding"));
  if (!encoding.empty() && encoding != "identity" && encoding != "gzip" &&
      encoding != "deflate" && encoding != "zstd") {
    return Error(415, kGrpcInvalidArgument,
                 "unsupported Content-Encoding \"" + encoding + "\", supported: gzip, deflate, zstd",
                 reply, head);
  }
  body_limit = static_cast<uint64_t>(config_.max_request_body_size);
  std::string_view length = head.Header("content-length");
  if (!length.empty()) {
    uint64_t n = 0;
    for (char c : length) n = n * 10 + uint64_t(c - '0');
    if (n > body_limit) {
      return Error(413, kGrpcResourceExhausted,
                   "request body of " + std::string(length) + " bytes is over the limit of " +
                       std::to_string(body_limit),
                   reply, head);
    }
    // The memory budget is checked before the body is read.
    if (Status admit = intake_.Admit(n); !admit.ok()) return Refusal(admit, reply, head);
  } else if (Status admit = intake_.Admit(0); !admit.ok()) {
    return Refusal(admit, reply, head);
  }
  return std::nullopt;
}

net::HttpResponse HttpHandler::OnRequest(net::HttpRequest& request) {
  Signal signal = *SignalForPath(request.Path());
  Encoding encoding = ReplyEncoding(request);
  std::string content_encoding = Lower(request.Header("content-encoding"));
  std::string body;
  auto limit = static_cast<size_t>(config_.max_request_body_size);
  if (content_encoding == "gzip" || content_encoding == "deflate" ||
      content_encoding == "zstd") {
    DecompressResult result = content_encoding == "zstd"
                                  ? ZstdDecompressLimited(request.body, limit, &body)
                                  : GunzipLimited(request.body, limit, &body);
    if (result == DecompressResult::kTooLarge) {
      return Error(413, kGrpcResourceExhausted,
                   "decompressed request body is over the limit of " + std::to_string(limit) +
                       " bytes",
                   encoding, request);
    }
    if (result == DecompressResult::kCorrupt) {
      return Error(400, kGrpcInvalidArgument,
                   "the body is not valid " + content_encoding + " data", encoding, request);
    }
  } else {
    body = std::move(request.body);
  }

  std::shared_ptr<ClientMetadata> metadata;
  if (intake_.include_metadata()) {
    metadata = std::make_shared<ClientMetadata>();
    for (const auto& [name, value] : request.headers) (*metadata)[name].push_back(value);
  }
  Batch batch;
  if (encoding == Encoding::kProtobuf) {
    batch = Payload::Parse(signal, std::move(body), metadata);
    if (!batch) {
      return Error(400, kGrpcInvalidArgument,
                   "the body is not a valid protobuf " + std::string(SignalName(signal)) +
                       " export request",
                   encoding, request);
    }
  } else {
    auto message = Payload::NewRequest(signal);
    if (std::string err = DecodeOtlpJson(body, message.get()); !err.empty()) {
      return Error(400, kGrpcInvalidArgument, "invalid OTLP/JSON: " + err, encoding, request);
    }
    batch = std::make_shared<const Payload>(signal, std::move(message), std::string(), metadata);
  }

  Status status = intake_.Accept(std::move(batch));
  if (!status.ok()) return Refusal(status, encoding, request);
  net::HttpResponse r;
  r.status = 200;
  // An empty Export*ServiceResponse: no bytes in protobuf, {} in JSON.
  if (encoding == Encoding::kProtobuf) {
    r.Set("Content-Type", kProtobufType);
  } else {
    r.Set("Content-Type", kJsonType);
    r.body = "{}";
  }
  AddCors(request, r);
  return r;
}

}  // namespace otelite::receivers::otlp
