#include "exporters/otlp/http_client.h"

#include <poll.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <mutex>
#include <set>
#include <tuple>

#include "otelite_version.h"

namespace otelite::exporters::otlp {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Deadline = std::optional<std::chrono::steady_clock::time_point>;

namespace {

constexpr uint64_t kMaxResponseBody = 4u << 20;

using Key = std::tuple<bool, std::string, std::string>;  // tls, host, port

// One connection with its own io_context, run by the calling thread for each step, so that a
// blocking call gets beast::tcp_stream's timeouts.
struct Conn {
  Key key;
  asio::io_context ioc{1};
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  bool reused = false;

  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  // Runs one asynchronous operation to completion on this thread, under `deadline`.
  template <class Start>
  beast::error_code Run(const Deadline& deadline, Start&& start) {
    if (deadline) {
      if (std::chrono::steady_clock::now() >= *deadline) return beast::error::timeout;
      tcp().expires_at(*deadline);
    } else {
      tcp().expires_never();
    }
    beast::error_code result = asio::error::operation_aborted;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  // True when the server closed the idle connection (or sent something unasked).
  bool Stale() {
    pollfd p{};
    p.fd = tcp().socket().native_handle();
    p.events = POLLIN;
    return ::poll(&p, 1, 0) != 0;
  }
};

std::string Describe(const beast::error_code& ec, const Deadline& deadline) {
  if (ec == beast::error::timeout) return "timed out";
  return ec.message();
}

bool IsIp(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

struct HttpClient::Impl {
  size_t max_idle;
  std::unique_ptr<asio::ssl::context> ssl;
  TlsClientConfig tls;

  mutable std::mutex mu;
  bool closed = false;
  std::vector<std::unique_ptr<Conn>> idle;
  std::set<Conn*> inflight;
  std::atomic<size_t> opened{0};

  std::unique_ptr<Conn> Take(const Key& key) {
    std::lock_guard lock(mu);
    for (size_t i = idle.size(); i-- > 0;) {
      if (idle[i]->key != key) continue;
      std::unique_ptr<Conn> c = std::move(idle[i]);
      idle.erase(idle.begin() + long(i));
      if (c->Stale()) continue;  // closed by the server while idle: drop it
      c->reused = true;
      inflight.insert(c.get());
      return c;
    }
    return nullptr;
  }

  void Give(std::unique_ptr<Conn> c, bool keep) {
    std::lock_guard lock(mu);
    inflight.erase(c.get());
    if (keep && !closed && idle.size() < max_idle) idle.push_back(std::move(c));
  }

  // A new, connected (and for https, handshaken) connection; nullptr and `err` on failure.
  std::unique_ptr<Conn> Open(const Url& url, const Deadline& deadline, std::string* err) {
    auto c = std::make_unique<Conn>();
    c->key = Key{url.tls, url.host, url.port};
    {
      std::lock_guard lock(mu);
      if (closed) {
        *err = "the exporter is shutting down";
        return nullptr;
      }
      inflight.insert(c.get());
    }
    auto fail = [&](std::string why) {
      *err = std::move(why);
      Give(std::move(c), false);
      return nullptr;
    };
    if (url.tls) {
      if (!ssl) return fail("TLS is not initialized");
      c->secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(c->ioc, *ssl);
    } else {
      c->plain = std::make_unique<beast::tcp_stream>(c->ioc);
    }
    opened.fetch_add(1);
    // Name resolution is synchronous (getaddrinfo has its own timeouts); numeric hosts are
    // resolved without a lookup.
    tcp::resolver resolver(c->ioc);
    beast::error_code ec;
    auto endpoints = resolver.resolve(url.host, url.port, ec);
    if (ec) return fail("resolve " + url.host + ": " + ec.message());
    ec = c->Run(deadline, [&](auto handler) { c->tcp().async_connect(endpoints, handler); });
    if (ec) return fail("connect to " + url.authority() + ": " + Describe(ec, deadline));
    c->tcp().socket().set_option(tcp::no_delay(true), ec);
    if (url.tls) {
      const std::string& name =
          tls.server_name_override.empty() ? url.host : tls.server_name_override;
      if (!IsIp(name) && !SSL_set_tlsext_host_name(c->secure->native_handle(), name.c_str())) {
        return fail("TLS: cannot set the server name " + name);
      }
      if (!tls.insecure_skip_verify) {
        c->secure->set_verify_callback(asio::ssl::host_name_verification(name));
      }
      ec = c->Run(deadline, [&](auto handler) {
        c->secure->async_handshake(asio::ssl::stream_base::client, handler);
      });
      if (ec) return fail("TLS handshake with " + url.authority() + ": " + Describe(ec, deadline));
    }
    return c;
  }

  // One request/response on `c`. `got_answer` tells whether any byte of the answer arrived.
  beast::error_code Exchange(Conn& c, http::request<http::string_body>& req,
                             const Deadline& deadline, HttpClientResponse* out, bool* keep,
                             bool* got_answer) {
    *got_answer = false;
    beast::error_code ec = c.Run(deadline, [&](auto handler) {
      if (c.secure) http::async_write(*c.secure, req, handler);
      else http::async_write(*c.plain, req, handler);
    });
    if (ec) return ec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBody);
    ec = c.Run(deadline, [&](auto handler) {
      if (c.secure) http::async_read(*c.secure, c.buffer, parser, handler);
      else http::async_read(*c.plain, c.buffer, parser, handler);
    });
    *got_answer = parser.got_some();
    if (ec) return ec;
    auto& res = parser.get();
    out->status = int(res.result_int());
    out->content_type = std::string(res[http::field::content_type]);
    out->retry_after = std::string(res[http::field::retry_after]);
    out->body = std::move(res.body());
    *keep = res.keep_alive();
    return {};
  }
};

HttpClient::HttpClient(size_t max_idle) : impl_(std::make_unique<Impl>()) {
  impl_->max_idle = max_idle;
}

HttpClient::~HttpClient() { Close(); }

std::string HttpClient::Init(const TlsClientConfig& tls) {
  impl_->tls = tls;
  try {
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1);
    if (tls.insecure_skip_verify) {
      ctx->set_verify_mode(asio::ssl::verify_none);
    } else {
      ctx->set_verify_mode(asio::ssl::verify_peer);
      if (!tls.ca_file.empty()) {
        beast::error_code ec;
        ctx->load_verify_file(tls.ca_file, ec);
        if (ec) return "tls.ca_file: cannot load \"" + tls.ca_file + "\": " + ec.message();
      } else {
        ctx->set_default_verify_paths();
      }
    }
    if (!tls.cert_file.empty()) {
      beast::error_code ec;
      ctx->use_certificate_chain_file(tls.cert_file, ec);
      if (ec) return "tls.cert_file: cannot load \"" + tls.cert_file + "\": " + ec.message();
      ctx->use_private_key_file(tls.key_file, asio::ssl::context::pem, ec);
      if (ec) return "tls.key_file: cannot load \"" + tls.key_file + "\": " + ec.message();
    }
    impl_->ssl = std::move(ctx);
  } catch (const std::exception& e) {
    return std::string("TLS setup failed: ") + e.what();
  }
  return {};
}

std::string HttpClient::Post(const Url& url, const Headers& headers, std::string body,
                             Deadline deadline, HttpClientResponse* out) {
  try {
    http::request<http::string_body> req{http::verb::post, url.target, 11};
    req.set(http::field::host, url.authority());
    req.set(http::field::user_agent, std::string("otelite/") + OTELITE_VERSION);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = std::move(body);
    req.keep_alive(true);
    req.prepare_payload();

    Key key{url.tls, url.host, url.port};
    for (int attempt = 0;; ++attempt) {
      std::string err;
      std::unique_ptr<Conn> c = impl_->Take(key);
      if (!c) c = impl_->Open(url, deadline, &err);
      if (!c) return err;
      bool keep = false, got_answer = false;
      beast::error_code ec = impl_->Exchange(*c, req, deadline, out, &keep, &got_answer);
      bool reused = c->reused;
      impl_->Give(std::move(c), !ec && keep);
      if (!ec) return {};
      // A reused connection the server closed in the meantime: nothing was processed, so the
      // request goes again, once, on a new connection.
      if (reused && !got_answer && attempt == 0 && ec != beast::error::timeout &&
          ec != asio::error::operation_aborted) {
        continue;
      }
      if (ec == beast::error::timeout) return "timed out";
      if (ec == asio::error::operation_aborted) return "aborted: the exporter is shutting down";
      return (got_answer ? "reading the response: " : "") + ec.message();
    }
  } catch (const std::exception& e) {
    return e.what();
  }
}

void HttpClient::Close() {
  std::lock_guard lock(impl_->mu);
  impl_->closed = true;
  impl_->idle.clear();
  // Requests in flight: their own thread closes the socket at its next step.
  for (Conn* c : impl_->inflight) {
    asio::post(c->ioc, [c] {
      beast::error_code ec;
      c->tcp().socket().close(ec);
    });
  }
}

size_t HttpClient::connections_opened() const { return impl_->opened.load(); }

}  // namespace otelite::exporters::otlp
