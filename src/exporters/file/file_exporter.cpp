#include <condition_variable>
#include <mutex>
#include <thread>

#include "components/registry.h"
#include "exporters/file/config.h"
#include "exporters/file/rotating_file.h"
#include "pdata/compression.h"
#include "pdata/otlp_json.h"

namespace otelite::exporters::file {

const config::Schema<RotationConfig>& RotationConfig::Schema() {
  static const auto s = config::Schema<RotationConfig>()
      .Field("max_megabytes", &RotationConfig::max_megabytes,
             "size in MiB at which the file is rotated", config::AtLeast(1))
      .Field("max_days", &RotationConfig::max_days,
             "days to keep backups (by the time in their name); 0 keeps all", config::AtLeast(0))
      .Field("max_backups", &RotationConfig::max_backups, "backups to keep; 0 keeps all",
             config::AtLeast(0))
      .Field("localtime", &RotationConfig::localtime,
             "local time instead of UTC in backup names");
  return s;
}

const config::Schema<Config>& Config::Schema() {
  static const auto s = config::Schema<Config>()
      .Field("path", &Config::path, "file to write (required)")
      .Field("format", &Config::format,
             "json: one OTLP/JSON request per line; proto: 4-byte big-endian length + protobuf",
             config::OneOf({"json", "proto"}))
      .Field("compression", &Config::compression,
             "zstd: each record compressed and written length-prefixed",
             config::OneOf({"", "zstd"}))
      .Field("flush_interval", &Config::flush_interval,
             "how often written data is synced to disk (fdatasync); 0 syncs every record",
             config::NonNegative())
      .Field("append", &Config::append, "append to an existing file instead of truncating it")
      .Field("rotation", &Config::rotation, "rotate the file by size (off unless set)")
      .Check([](const Config& c, const config::Checker& check) {
        if (c.path.empty()) check.Error("path", "path must be non-empty");
        if (c.append && !c.compression.empty()) {
          check.Error("append", "append is not supported together with compression");
        }
      });
  return s;
}

namespace {

void PutLength(std::string& out, size_t n) {
  out.push_back(char((n >> 24) & 0xFF));
  out.push_back(char((n >> 16) & 0xFF));
  out.push_back(char((n >> 8) & 0xFF));
  out.push_back(char(n & 0xFF));
}

class FileExporter : public Exporter {
 public:
  explicit FileExporter(const Config& config) : config_(config), file_(FileOptions(config)) {}

  std::string Start(Host&) override {
    if (std::string err = file_.Open(); !err.empty()) return err;
    if (config_.flush_interval.count() > 0) {
      flusher_ = std::thread([this] { FlushLoop(); });
    }
    return {};
  }

  Status Push(const Payload& payload) noexcept override {
    std::string record;
    if (std::string err = Encode(payload, &record); !err.empty()) return Status::Permanent(err);
    std::lock_guard lock(mu_);
    if (closed_) return Status::Permanent("file exporter is shut down");
    if (std::string err = file_.Write(record); !err.empty()) return Status::Permanent(err);
    if (config_.flush_interval.count() == 0) {
      if (std::string err = file_.Sync(); !err.empty()) return Status::Permanent(err);
    }
    return Status::Ok();
  }

  void Shutdown(Deadline) override {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      (void)file_.Sync();
      file_.Close();
    }
    cv_.notify_all();
    if (flusher_.joinable()) flusher_.join();
  }

  ~FileExporter() override { Shutdown(Clock::now()); }

 private:
  static RotatingFile::Options FileOptions(const Config& c) {
    RotatingFile::Options o;
    o.path = c.path;
    o.append = c.append;
    if (c.rotation) {
      o.max_bytes = uint64_t(c.rotation->max_megabytes) << 20;
      o.max_backups = int(c.rotation->max_backups);
      o.max_days = int(c.rotation->max_days);
      o.localtime = c.rotation->localtime;
    }
    return o;
  }

  // One whole record: a JSON line, or a length-prefixed protobuf / zstd frame.
  std::string Encode(const Payload& payload, std::string* out) const {
    std::string data;
    if (config_.format == "json") {
      if (std::string err = EncodeOtlpJson(payload.message(), &data); !err.empty()) return err;
    } else {
      data = payload.serialized();
    }
    if (config_.compression == "zstd") data = ZstdCompress(data);
    std::string record;
    if (config_.format == "json" && config_.compression.empty()) {
      record = std::move(data);
      record.push_back('\n');
    } else {
      record.reserve(data.size() + 4);
      PutLength(record, data.size());
      record += data;
    }
    *out = std::move(record);
    return {};
  }

  void FlushLoop() {
    std::unique_lock lock(mu_);
    while (!closed_) {
      cv_.wait_for(lock, config_.flush_interval);
      if (!closed_) (void)file_.Sync();
    }
  }

  Config config_;
  RotatingFile file_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;
  std::thread flusher_;
};

class Factory : public TypedFactory<ExporterFactory, Config> {
 public:
  std::string_view type() const override { return kType; }
  std::string_view description() const override {
    return "writes OTLP/JSON lines or length-prefixed protobuf to a file, with rotation";
  }
  SignalSet signals() const override { return SignalSet::All(); }
  std::unique_ptr<Exporter> Create(const CreateSettings&, const ComponentConfig& config,
                                   SignalSet) const override {
    return std::make_unique<FileExporter>(Cast(config));
  }
};

}  // namespace

void Register(Registry& registry) { registry.Add(std::make_unique<Factory>()); }

}  // namespace otelite::exporters::file
