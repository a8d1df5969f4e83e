#pragma once
// A small HTTP/1.1 client for the otlp_http exporter, on Boost.Beast (kept out of this header):
// blocking POSTs from many threads, a pool of keep-alive connections (one per concurrent caller,
// reused by the next), TLS through Boost.Asio SSL (OpenSSL), and one deadline over the whole
// exchange (connect, TLS handshake, write, read).
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "exporters/otlp/config.h"

namespace otelite::exporters::otlp {

struct HttpClientResponse {
  int status = 0;
  std::string content_type;
  std::string retry_after;
  std::string body;
};

class HttpClient {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // `max_idle`: keep-alive connections kept open between requests.
  explicit HttpClient(size_t max_idle = 16);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Loads the TLS settings (CA, client certificate) for https URLs. Empty on success, else the
  // reason. Call once, before any Post.
  std::string Init(const TlsClientConfig& tls);

  // Sends one POST with `headers` (later ones replace earlier ones of the same name) and reads
  // the answer, everything before `deadline` (none: no limit). Thread-safe. Returns "" when an
  // answer (of any status) was read, else what failed (connection refused, timeout, TLS ...).
  // A keep-alive connection the server closed while idle is retried once on a new connection.
  std::string Post(const Url& url, const Headers& headers, std::string body,
                   std::optional<std::chrono::steady_clock::time_point> deadline,
                   HttpClientResponse* out);

  // Closes the idle connections and aborts the requests in flight; later Posts fail.
  void Close();

  // Connections opened so far (for tests of connection reuse).
  size_t connections_opened() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace otelite::exporters::otlp
