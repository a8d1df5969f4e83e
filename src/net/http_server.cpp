#include "net/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

namespace otelite::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string_view HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

std::string_view HttpRequest::Path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

namespace {

constexpr auto kReadTimeout = std::chrono::seconds(30);
constexpr auto kIdleTimeout = std::chrono::seconds(90);

class Session;

// Sessions alive now, so that Stop() can close idle ones.
struct SessionSet {
  std::mutex mu;
  std::set<std::shared_ptr<Session>> sessions;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpHandler& handler, uint64_t body_limit, SessionSet& set,
          std::atomic<bool>& stopping)
      : stream_(std::move(socket)),
        handler_(handler),
        body_limit_(body_limit),
        set_(set),
        stopping_(stopping) {}

  void Run() { ReadHeader(); }

  // Called from Stop(): close the connection unless a request is being answered. A request
  // still being read has not been accepted, so its client gets an error and sends it again.
  void CloseUnlessAnswering() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->answering_) {
        beast::error_code ec;
        self->stream_.socket().close(ec);
      }
    });
  }

 private:
  void ReadHeader() {
    if (stopping_) return Close();
    answering_ = false;
    parser_.emplace();
    parser_->header_limit(64 * 1024);
    // The handler sees the headers first and answers an oversized Content-Length itself (413);
    // the real limit is set before the body is read. (Not boost::none: Beast 1.74 compares
    // `length > limit` on the optional, which is always true for an empty one.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    stream_.expires_after(requests_served_ ? kIdleTimeout : kReadTimeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      keep_alive_ = false;
      linger_ = true;
      HttpResponse r;
      r.status = 431;
      r.Set("Content-Type", "text/plain");
      r.body = "request header fields too large\n";
      return Write(std::move(r));
    }
    if (ec) return Close();
    const auto& msg = parser_->get();
    head_.method = std::string(msg.method_string());
    head_.target = std::string(msg.target());
    head_.headers.clear();
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      head_.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    keep_alive_ = msg.keep_alive();
    uint64_t limit = body_limit_;
    if (auto early = handler_.OnHeaders(head_, limit)) {
      // The body was not read: the connection can't be reused.
      linger_ = !parser_->is_done();
      keep_alive_ = !linger_ && keep_alive_;
      return Write(std::move(*early));
    }
    parser_->body_limit(limit);
    body_limit_now_ = limit;
    if (beast::iequals(msg[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      http::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code ec, size_t) {
        if (ec) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(kReadTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->OnBody(ec);
                     });
  }

  void OnBody(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      linger_ = true;
      return Write(handler_.OnBodyTooLarge(head_, body_limit_now_));
    }
    if (ec) return Close();
    answering_ = true;
    HttpRequest req = std::move(head_);
    req.body = std::move(parser_->get().body());
    HttpResponse r = handler_.OnRequest(req);
    Write(std::move(r));
  }

  void Write(HttpResponse r) {
    answering_ = true;
    auto res = std::make_shared<http::response<http::string_body>>();
    res->result(static_cast<unsigned>(r.status));
    res->version(11);
    for (auto& [k, v] : r.headers) res->set(k, v);
    res->body() = std::move(r.body);
    bool keep = keep_alive_ && !stopping_;
    res->keep_alive(keep);
    res->prepare_payload();
    stream_.expires_after(kReadTimeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res, keep](beast::error_code ec, size_t) {
      ++self->requests_served_;
      if (!ec && self->linger_) return self->LingerClose();
      if (ec || !keep) return self->Close();
      self->ReadHeader();
    });
  }

  // After an answer sent without reading the request's body: stop sending, then read and drop
  // what the client still sends for a moment, so that closing does not reset the connection
  // before the client has read the answer.
  void LingerClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(2));
    Drain();
  }
  void Drain() {
    auto buf = std::make_shared<std::array<char, 16384>>();
    stream_.async_read_some(asio::buffer(*buf), [self = shared_from_this(), buf](
                                                    beast::error_code ec, size_t) {
      if (ec || ++self->drained_reads_ > 4096) return self->Close();
      self->Drain();
    });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
    std::lock_guard lock(set_.mu);
    set_.sessions.erase(shared_from_this());
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpHandler& handler_;
  uint64_t body_limit_;
  SessionSet& set_;
  std::atomic<bool>& stopping_;
  HttpRequest head_;
  bool keep_alive_ = true;
  bool answering_ = false;  // a response is being produced or written
  uint64_t requests_served_ = 0;
  size_t drained_reads_ = 0;
  uint64_t body_limit_now_ = 0;
  bool linger_ = false;
};

// host:port -> endpoint; "localhost" means the IPv4 loopback, an empty host all interfaces.
std::string Resolve(const std::string& endpoint, tcp::endpoint* out) {
  auto colon = endpoint.rfind(':');
  if (colon == std::string::npos) return "endpoint \"" + endpoint + "\" is not host:port";
  std::string host = endpoint.substr(0, colon);
  std::string port = endpoint.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(host, port, ec);
    if (ec || results.empty()) return "cannot resolve host \"" + host + "\"";
    *out = *results.begin();
    return {};
  }
  int p = 0;
  try {
    p = std::stoi(port);
  } catch (...) {
    p = -1;
  }
  if (p < 0 || p > 65535) return "invalid port \"" + port + "\"";
  *out = tcp::endpoint(addr, static_cast<uint16_t>(p));
  return {};
}

}  // namespace

struct HttpServer::Impl {
  Options options;
  HttpHandler& handler;
  asio::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  SessionSet sessions;
  std::atomic<bool> stopping{false};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  uint16_t port = 0;
  bool started = false;

  Impl(Options o, HttpHandler& h) : options(std::move(o)), handler(h) {}

  void Accept() {
    acceptor->async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec) return;  // closed by Stop()
      auto session = std::make_shared<Session>(std::move(s), handler, options.body_limit,
                                               sessions, stopping);
      {
        std::lock_guard lock(sessions.mu);
        sessions.sessions.insert(session);
      }
      session->Run();
      Accept();
    });
  }
};

HttpServer::HttpServer(Options options, HttpHandler& handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

HttpServer::~HttpServer() { Stop(std::chrono::steady_clock::now()); }

std::string HttpServer::Start() {
  tcp::endpoint ep;
  if (std::string err = Resolve(impl_->options.endpoint, &ep); !err.empty()) return err;
  beast::error_code ec;
  impl_->acceptor.emplace(impl_->ioc);
  impl_->acceptor->open(ep.protocol(), ec);
  if (!ec) impl_->acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor->bind(ep, ec);
  if (!ec) impl_->acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    impl_->acceptor.reset();
    return "cannot listen on " + impl_->options.endpoint + ": " + ec.message();
  }
  impl_->port = impl_->acceptor->local_endpoint().port();
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->Accept();
  for (int i = 0; i < std::max(1, impl_->options.threads); ++i) {
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  }
  impl_->started = true;
  return {};
}

void HttpServer::Stop(std::chrono::steady_clock::time_point deadline) {
  if (!impl_->started) return;
  impl_->started = false;
  impl_->stopping = true;
  asio::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor->close(ec);
  });
  {
    std::lock_guard lock(impl_->sessions.mu);
    for (const auto& s : impl_->sessions.sessions) s->CloseUnlessAnswering();
  }
  impl_->work.reset();
  // Requests being answered finish with "Connection: close"; past the deadline, they are cut.
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(impl_->sessions.mu);
      if (impl_->sessions.sessions.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  // The close posted above may not have run before stop(): close the listening socket here, or
  // new connections would still be queued by the kernel and never answered.
  beast::error_code ec;
  if (impl_->acceptor) impl_->acceptor->close(ec);
  std::lock_guard lock(impl_->sessions.mu);
  impl_->sessions.sessions.clear();
}

uint16_t HttpServer::port() const { return impl_->port; }

}  // namespace otelite::net
