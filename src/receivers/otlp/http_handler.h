#pragma once
#include <array>
#include <string>

#include "net/http_server.h"
#include "receivers/otlp/config.h"
#include "receivers/otlp/intake.h"

namespace otelite::receivers::otlp {

// OTLP/HTTP as the specification defines it: POST of a protobuf or JSON Export*ServiceRequest,
// optionally gzip/deflate/zstd encoded; answers in the request's encoding, errors as a
// google.rpc.Status (400 malformed, 413 too large, 415 media type, 404 path, 405 method,
// 503 + Retry-After when the pipeline asks the client to retry).
class HttpHandler : public net::HttpHandler {
 public:
  HttpHandler(const HttpConfig& config, Intake& intake);

  std::optional<net::HttpResponse> OnHeaders(const net::HttpRequest& head,
                                             uint64_t& body_limit) override;
  net::HttpResponse OnRequest(net::HttpRequest& request) override;
  net::HttpResponse OnBodyTooLarge(const net::HttpRequest& head, uint64_t limit) override;

 private:
  enum class Encoding { kProtobuf, kJson };
  static Encoding ReplyEncoding(const net::HttpRequest& request);
  std::optional<Signal> SignalForPath(std::string_view path) const;
  bool OriginAllowed(std::string_view origin) const;
  net::HttpResponse Preflight(const net::HttpRequest& head) const;
  net::HttpResponse Error(int http_status, int grpc_code, const std::string& message,
                          Encoding encoding, const net::HttpRequest& request) const;
  void AddCors(const net::HttpRequest& request, net::HttpResponse& response) const;
  // 503 + Retry-After for a retryable refusal, 400 for a permanent one.
  net::HttpResponse Refusal(const Status& status, Encoding encoding,
                            const net::HttpRequest& request) const;

  HttpConfig config_;
  Intake& intake_;
};

}  // namespace otelite::receivers::otlp
