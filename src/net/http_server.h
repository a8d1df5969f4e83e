#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace otelite::net {

struct HttpRequest {
  std::string method;  // upper case: GET, POST, OPTIONS
  std::string target;  // path and query
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;

  // The value of a header (case-insensitive name), or "" when absent.
  std::string_view Header(std::string_view lower_name) const;
  std::string_view Path() const;  // target without the query string
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  HttpResponse& Set(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// What a server does with requests. Both calls run on the server's I/O threads, so they must
// not block for long.
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Called once the headers are read and before the body is: a response returned here is sent
  // at once (the body is never read, the connection is closed). `body_limit` may be lowered.
  virtual std::optional<HttpResponse> OnHeaders(const HttpRequest& head, uint64_t& body_limit) {
    return std::nullopt;
  }
  virtual HttpResponse OnRequest(HttpRequest& request) = 0;
  // The answer when a body passes the limit while it is read (a chunked body has no
  // Content-Length to check up front). `head` has the request's headers, no body.
  virtual HttpResponse OnBodyTooLarge(const HttpRequest& head, uint64_t limit) {
    HttpResponse r;
    r.status = 413;
    r.Set("Content-Type", "text/plain");
    r.body = "request body too large\n";
    return r;
  }
};

// A small HTTP/1.1 server on Boost.Beast: keep-alive, chunked bodies, a body limit checked
// while reading (413 when passed), read timeouts, and a graceful stop.
class HttpServer {
 public:
  struct Options {
    std::string endpoint;  // host:port; "localhost" and ":port" are understood
    int threads = 1;
    uint64_t body_limit = 20u << 20;
    std::string name = "http";
  };
  HttpServer(Options options, HttpHandler& handler);
  ~HttpServer();

  // Binds and starts serving. Empty string on success, else the reason.
  std::string Start();
  // Stops accepting and closes connections, except those whose request is being answered: those
  // finish (until `deadline`). Joins the I/O threads.
  void Stop(std::chrono::steady_clock::time_point deadline);
  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace otelite::net
