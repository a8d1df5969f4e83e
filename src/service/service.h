#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "components/registry.h"
#include "core/fanout.h"
#include "service/service_config.h"
#include "telemetry/self_telemetry.h"

namespace otelite {

namespace exporters {
class QueuedExporter;
}

// Builds the pipelines of a validated configuration and runs them.
//
// The graph is built downstream first: exporters (each behind its own queue), then each
// pipeline's processors in reverse order, then the receivers, each given one consumer per signal
// (a fan-out when it feeds several pipelines). Start goes the same way, extensions first; Shutdown
// goes upstream first: receivers stop accepting, processors flush, exporters drain.
class Service : public Host {
 public:
  explicit Service(ServiceConfig config);
  ~Service() override;

  // Builds and starts everything. Empty on success; on failure what started is shut down.
  std::string Start();
  // Idempotent. Drains within the configured shutdown_timeout.
  void Shutdown();

  // Host
  SelfTelemetry& telemetry() override { return *telemetry_; }
  ServiceState state() const override { return state_.load(); }
  Clock::time_point started_at() const override { return started_at_; }
  void ReportFatalError(const ComponentId& id, const std::string& message) override;
  Component* GetExtension(const ComponentId& id) override;

  // Called (once) when a component reports a fatal error; main uses it to stop.
  void set_on_fatal(std::function<void()> f) { on_fatal_ = std::move(f); }

 private:
  struct Node {
    std::string label;  // "exporter file/x", for logs
    Component* component;
    bool extension = false;
  };
  void Build();
  Consumer* Own(std::unique_ptr<FanOut> fanout);

  ServiceConfig config_;
  std::unique_ptr<SelfTelemetry> telemetry_;
  std::atomic<ServiceState> state_{ServiceState::kStarting};
  Clock::time_point started_at_ = Clock::now();
  std::function<void()> on_fatal_;
  std::atomic<bool> fatal_reported_{false};

  std::vector<std::unique_ptr<Extension>> extensions_;
  std::map<ComponentId, Extension*> extension_by_id_;
  std::vector<std::unique_ptr<exporters::QueuedExporter>> exporters_;
  std::vector<std::unique_ptr<Processor>> processors_;
  std::vector<std::unique_ptr<Receiver>> receivers_;
  std::vector<std::unique_ptr<FanOut>> fanouts_;
  // In start order: extensions, exporters, processors (downstream first), receivers.
  std::vector<Node> start_order_;
  bool shut_down_ = false;
};

}  // namespace otelite
