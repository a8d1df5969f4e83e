#pragma once
#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace otelite {

// Sets up the process-wide logger on stderr: level debug|info|warn|error, encoding console|json.
void SetupLogging(const std::string& level, const std::string& encoding);
// A logger for one component; its lines carry the component's kind and id.
std::shared_ptr<spdlog::logger> ComponentLogger(const std::string& kind, const std::string& id);

}  // namespace otelite
