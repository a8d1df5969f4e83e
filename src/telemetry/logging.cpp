#include "telemetry/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace otelite {

namespace {

std::shared_ptr<spdlog::sinks::sink>& SharedSink() {
  static std::shared_ptr<spdlog::sinks::sink> sink =
      std::make_shared<spdlog::sinks::stderr_sink_mt>();
  return sink;
}

// One JSON object per line, as otelcol's json log encoding: ts, level, logger, msg.
class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto ts = std::chrono::duration<double>(msg.time.time_since_epoch()).count();
    nlohmann::json line = {{"ts", ts},
                           {"level", spdlog::level::to_string_view(msg.level).data()},
                           {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    if (msg.logger_name.size() > 0) {
      line["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
    }
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

void SetupLogging(const std::string& level, const std::string& encoding) {
  auto& sink = SharedSink();
  if (encoding == "json") {
    sink->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ\t%l\t%n\t%v", spdlog::pattern_time_type::utc));
  }
  auto root = std::make_shared<spdlog::logger>("", sink);
  spdlog::level::level_enum lvl = spdlog::level::info;
  if (level == "debug") lvl = spdlog::level::debug;
  else if (level == "warn") lvl = spdlog::level::warn;
  else if (level == "error") lvl = spdlog::level::err;
  root->set_level(lvl);
  spdlog::set_default_logger(root);
  spdlog::set_level(lvl);
  spdlog::apply_all([lvl](const std::shared_ptr<spdlog::logger>& l) { l->set_level(lvl); });
}

std::shared_ptr<spdlog::logger> ComponentLogger(const std::string& kind, const std::string& id) {
  std::string name = kind + "/" + id;
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, SharedSink());
  logger->set_level(spdlog::default_logger()->level());
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace otelite
