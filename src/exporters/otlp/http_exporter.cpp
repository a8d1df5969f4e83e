// The `otlp_http` exporter: one POST per batch to the signal's URL, with the payload's protobuf
// bytes as they are (or OTLP/JSON with `encoding: json`), compressed with gzip or zstd.
#include <array>

#include "components/registry.h"
#include "exporters/otlp/config.h"
#include "exporters/otlp/http_client.h"
#include "exporters/otlp/status_mapping.h"
#include "pdata/compression.h"
#include "pdata/otlp_json.h"
#include "pdata/payload.h"

namespace otelite::exporters::otlp {

namespace {

bool ContainsJson(std::string_view content_type) {
  for (size_t i = 0; i + 4 <= content_type.size(); ++i) {
    std::string_view w = content_type.substr(i, 4);
    if ((w[0] | 0x20) == 'j' && (w[1] | 0x20) == 's' && (w[2] | 0x20) == 'o' &&
        (w[3] | 0x20) == 'n') {
      return true;
    }
  }
  return false;
}

class HttpExporter : public Exporter {
 public:
  HttpExporter(const CreateSettings& settings, const HttpConfig& config, SignalSet signals)
      : config_(config),
        id_(settings.id.str()),
        signals_(signals),
        reporter_(settings),
        client_(size_t(std::max<int64_t>(1, config.sending_queue.num_consumers))) {
    json_ = config_.encoding == "json";
    headers_.emplace_back("Content-Type", json_ ? "application/json" : "application/x-protobuf");
    if (config_.compression == "gzip" || config_.compression == "zstd") {
      headers_.emplace_back("Content-Encoding", config_.compression);
    }
    for (const auto& [k, v] : config_.headers) headers_.emplace_back(k, v);
  }

  ~HttpExporter() override { Shutdown(Clock::now()); }

  std::string Start(Host&) override {
    for (Signal s : kAllSignals) {
      if (!signals_.Has(s)) continue;
      auto text = SignalUrl(config_, s);
      std::string key = std::string(SignalName(s)) + "_endpoint";
      if (!text) return "no URL for " + std::string(SignalName(s)) + ": set endpoint or " + key;
      Url url;
      if (std::string why = ParseUrl(*text, &url); !why.empty()) return key + ": " + why;
      urls_[size_t(s)] = url;
    }
    return client_.Init(config_.tls);
  }

  Status Push(const Payload& payload) noexcept override {
    try {
      return Send(payload);
    } catch (const std::exception& e) {
      return Status::Retryable(std::string("HTTP export failed: ") + e.what());
    }
  }

  void Shutdown(Deadline) override { client_.Close(); }

 private:
  Status Send(const Payload& payload) {
    const auto& url = urls_[size_t(payload.signal())];
    if (!url) {
      return Status::Permanent("exporter " + id_ + " has no URL for " +
                               std::string(SignalName(payload.signal())));
    }
    std::string body;
    if (json_) {
      if (std::string err = EncodeOtlpJson(payload.message(), &body); !err.empty()) {
        return Status::Permanent("cannot encode OTLP/JSON: " + err);
      }
    }
    const std::string& raw = json_ ? body : payload.serialized();
    if (config_.compression == "gzip") {
      body = GzipCompress(raw);
    } else if (config_.compression == "zstd") {
      body = ZstdCompress(raw);
    } else if (!json_) {
      body = raw;
    }
    std::optional<Clock::time_point> deadline;
    if (config_.timeout.count() > 0) deadline = Clock::now() + config_.timeout;
    HttpClientResponse res;
    if (std::string err = client_.Post(*url, headers_, std::move(body), deadline, &res);
        !err.empty()) {
      // Connection errors and timeouts: the server may be back later.
      return Status::Retryable("POST " + url->str() + ": " + err);
    }
    if (res.status < 200 || res.status > 299) {
      Status s = FromHttpError({res.status, res.retry_after, res.content_type, res.body},
                               std::chrono::system_clock::now());
      std::string message = "POST " + url->str() + ": " + s.message();
      return s.retryable() ? Status::Retryable(std::move(message), s.throttle())
                           : Status::Permanent(std::move(message));
    }
    bool json_answer = res.content_type.empty() ? json_ : ContainsJson(res.content_type);
    PartialSuccess partial;
    if (DecodePartialSuccess(payload.signal(), res.body, json_answer, &partial)) {
      reporter_.Report(payload.signal(), partial);
    }
    return Status::Ok();
  }

  HttpConfig config_;
  std::string id_;
  SignalSet signals_;
  PartialSuccessReporter reporter_;
  HttpClient client_;
  bool json_ = false;
  HttpClient::Headers headers_;
  std::array<std::optional<Url>, kSignalCount> urls_;
};

class HttpFactory : public TypedFactory<ExporterFactory, HttpConfig> {
 public:
  std::string_view type() const override { return kHttpType; }
  std::string_view description() const override {
    return "sends OTLP over HTTP (protobuf or JSON, gzip or zstd, TLS)";
  }
  SignalSet signals() const override { return SignalSet::All(); }
  std::unique_ptr<Exporter> Create(const CreateSettings& settings, const ComponentConfig& config,
                                   SignalSet signals) const override {
    return std::make_unique<HttpExporter>(settings, Cast(config), signals);
  }
  const helper::ExporterHelperSettings* HelperSettings(
      const ComponentConfig& config) const override {
    return &Cast(config);
  }
};

}  // namespace

std::unique_ptr<ExporterFactory> NewHttpFactory() { return std::make_unique<HttpFactory>(); }

}  // namespace otelite::exporters::otlp
