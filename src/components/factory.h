#pragma once
#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/schema.h"
#include "core/component.h"
#include "core/component_id.h"
#include "core/consumer.h"
#include "core/signal.h"

namespace spdlog {
class logger;
}

namespace otelite {

class Registry;
namespace exporters::helper {
struct ExporterHelperSettings;
}

// The parsed settings of one component. Each component type derives its own Config from this,
// with the defaults as member initializers and a static Schema() listing every key.
struct ComponentConfig {
  virtual ~ComponentConfig() = default;
};

// An address a component listens on, so that two components on one port are caught up front.
struct ListenAddress {
  std::string endpoint;  // host:port
  std::string path;      // YAML path of the setting
  config::Mark mark;
};

// What the service hands every component it creates.
struct CreateSettings {
  ComponentId id;
  SelfTelemetry* telemetry = nullptr;
  std::shared_ptr<spdlog::logger> logger;
};

// A receiver gets one consumer per signal it must serve (nullptr for signals no pipeline takes).
using SignalConsumers = std::array<Consumer*, kSignalCount>;

class Receiver : public Component {};
class Processor : public Component, public Consumer {};
class Extension : public Component {};

// An exporter holds protocol code only: Push() sends one batch and says how it went. Queueing,
// retry and the exporter self-metrics are the exporter helper's job (exporters/helper).
class Exporter : public Component {
 public:
  virtual Status Push(const Payload& payload) noexcept = 0;
};

class Factory {
 public:
  virtual ~Factory() = default;
  virtual std::string_view type() const = 0;
  virtual Kind kind() const = 0;
  virtual std::string_view description() const = 0;
  // Signals supported (receivers, processors, exporters); empty for extensions.
  virtual SignalSet signals() const { return {}; }
  // Defaults, then the user's YAML over them, then validation; errors go to ctx.
  virtual std::unique_ptr<ComponentConfig> ParseConfig(const config::ConfNode& node,
                                                       const config::Ctx& ctx) const = 0;
  virtual std::vector<ListenAddress> Endpoints(const ComponentConfig& config,
                                               const std::string& path) const {
    return {};
  }
  // Every key with its default and description.
  virtual std::vector<config::KeyDoc> Describe() const = 0;
};

class ReceiverFactory : public Factory {
 public:
  Kind kind() const final { return Kind::kReceiver; }
  virtual std::unique_ptr<Receiver> Create(const CreateSettings& settings,
                                           const ComponentConfig& config,
                                           const SignalConsumers& consumers) const = 0;
};

class ProcessorFactory : public Factory {
 public:
  Kind kind() const final { return Kind::kProcessor; }
  virtual std::unique_ptr<Processor> Create(const CreateSettings& settings,
                                            const ComponentConfig& config, Signal signal,
                                            Consumer& next) const = 0;
};

class ExporterFactory : public Factory {
 public:
  Kind kind() const final { return Kind::kExporter; }
  virtual std::unique_ptr<Exporter> Create(const CreateSettings& settings,
                                           const ComponentConfig& config,
                                           SignalSet signals) const = 0;
  // Network exporters return their sending_queue / retry_on_failure / timeout settings; the
  // others (file, debug) get an in-memory queue with one consumer and no retry.
  virtual const exporters::helper::ExporterHelperSettings* HelperSettings(
      const ComponentConfig& config) const {
    return nullptr;
  }
};

class ExtensionFactory : public Factory {
 public:
  Kind kind() const final { return Kind::kExtension; }
  virtual std::unique_ptr<Extension> Create(const CreateSettings& settings,
                                            const ComponentConfig& config) const = 0;
};

// Implements the config half of a factory from a Config type with a static Schema().
template <class Base, class Config>
class TypedFactory : public Base {
 public:
  std::unique_ptr<ComponentConfig> ParseConfig(const config::ConfNode& node,
                                               const config::Ctx& ctx) const override {
    auto cfg = std::make_unique<Config>();
    Config::Schema().Decode(node, *cfg, ctx);
    return cfg;
  }
  std::vector<config::KeyDoc> Describe() const override { return Config::Schema().Describe(); }

 protected:
  static const Config& Cast(const ComponentConfig& c) { return static_cast<const Config&>(c); }
};

}  // namespace otelite
