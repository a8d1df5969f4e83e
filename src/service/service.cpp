#include "service/service.h"

#include <spdlog/spdlog.h>

#include <map>
#include <set>

#include "exporters/helper/queued_exporter.h"
#include "telemetry/logging.h"

namespace otelite {

Service::Service(ServiceConfig config)
    : config_(std::move(config)), telemetry_(std::make_unique<SelfTelemetry>()) {}

Service::~Service() { Shutdown(); }

Consumer* Service::Own(std::unique_ptr<FanOut> fanout) {
  fanouts_.push_back(std::move(fanout));
  return fanouts_.back().get();
}

void Service::Build() {
  auto settings_for = [&](const ComponentEntry& e) {
    CreateSettings s;
    s.id = e.id;
    s.telemetry = telemetry_.get();
    s.logger = ComponentLogger(std::string(KindName(e.factory->kind())), e.id.str());
    return s;
  };

  for (const auto& id : config_.enabled_extensions) {
    const auto& e = config_.extensions.at(id);
    extensions_.push_back(
        static_cast<const ExtensionFactory*>(e.factory)->Create(settings_for(e), *e.config));
    extension_by_id_[id] = extensions_.back().get();
    start_order_.push_back({"extension " + id.str(), extensions_.back().get(), true});
  }

  // Exporters: one instance per id, shared by every pipeline that names it.
  std::map<ComponentId, SignalSet> exporter_signals;
  for (const auto& p : config_.pipelines) {
    for (const auto& id : p.exporters) exporter_signals[id].Add(p.signal);
  }
  std::map<ComponentId, exporters::QueuedExporter*> exporter_by_id;
  for (const auto& [id, signals] : exporter_signals) {
    const auto& e = config_.exporters.at(id);
    auto settings = settings_for(e);
    const auto* factory = static_cast<const ExporterFactory*>(e.factory);
    auto exporter = factory->Create(settings, *e.config, signals);
    const auto* helper = factory->HelperSettings(*e.config);
    exporters_.push_back(std::make_unique<exporters::QueuedExporter>(
        settings, std::move(exporter),
        helper ? exporters::QueuedExporter::Options::From(*helper)
               : exporters::QueuedExporter::Options{}));
    exporter_by_id[id] = exporters_.back().get();
    start_order_.push_back({"exporter " + id.str(), exporters_.back().get()});
  }

  // Pipelines: exporters' fan-out, then processors from last to first.
  std::vector<Consumer*> heads;
  std::vector<Node> processor_nodes;
  for (const auto& p : config_.pipelines) {
    Consumer* next;
    if (p.exporters.size() == 1) {
      next = exporter_by_id.at(p.exporters[0]);
    } else {
      std::vector<Consumer*> targets;
      for (const auto& id : p.exporters) targets.push_back(exporter_by_id.at(id));
      next = Own(std::make_unique<FanOut>(std::move(targets)));
    }
    for (auto it = p.processors.rbegin(); it != p.processors.rend(); ++it) {
      const auto& e = config_.processors.at(*it);
      processors_.push_back(static_cast<const ProcessorFactory*>(e.factory)->Create(
          settings_for(e), *e.config, p.signal, *next));
      next = processors_.back().get();
      processor_nodes.push_back({"processor " + it->str() + " in " + p.id, processors_.back().get()});
    }
    heads.push_back(next);
  }
  start_order_.insert(start_order_.end(), processor_nodes.begin(), processor_nodes.end());

  // Receivers: one instance per id, one consumer per signal across the pipelines it feeds.
  std::set<ComponentId> receiver_ids;
  for (const auto& p : config_.pipelines) receiver_ids.insert(p.receivers.begin(), p.receivers.end());
  for (const auto& id : receiver_ids) {
    SignalConsumers consumers{};
    for (Signal s : kAllSignals) {
      std::vector<Consumer*> targets;
      for (size_t i = 0; i < config_.pipelines.size(); ++i) {
        const auto& p = config_.pipelines[i];
        if (p.signal == s && std::find(p.receivers.begin(), p.receivers.end(), id) != p.receivers.end()) {
          targets.push_back(heads[i]);
        }
      }
      if (targets.size() == 1) consumers[size_t(s)] = targets[0];
      if (targets.size() > 1) consumers[size_t(s)] = Own(std::make_unique<FanOut>(std::move(targets)));
    }
    const auto& e = config_.receivers.at(id);
    receivers_.push_back(
        static_cast<const ReceiverFactory*>(e.factory)->Create(settings_for(e), *e.config, consumers));
    start_order_.push_back({"receiver " + id.str(), receivers_.back().get()});
  }
}

std::string Service::Start() {
  started_at_ = Clock::now();
  if (config_.telemetry.metrics_level != "none" && !config_.telemetry.metrics_address.empty()) {
    if (std::string err = telemetry_->Serve(config_.telemetry.metrics_address); !err.empty()) {
      return "service.telemetry.metrics: " + err;
    }
  }
  Build();
  for (const auto& node : start_order_) {
    spdlog::debug("starting {}", node.label);
    if (std::string err = node.component->Start(*this); !err.empty()) {
      std::string message = "cannot start " + node.label + ": " + err;
      Shutdown();
      return message;
    }
  }
  state_ = ServiceState::kReady;
  spdlog::info("otelite is ready: {} receivers, {} pipelines, {} exporters", receivers_.size(),
               config_.pipelines.size(), exporters_.size());
  return {};
}

void Service::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  state_ = ServiceState::kStopping;
  Deadline deadline = Clock::now() + config_.shutdown_timeout;
  // Upstream first: receivers, then processors, then exporters; extensions last, so the health
  // check answers 503 for as long as the service drains.
  for (bool extensions : {false, true}) {
    for (size_t i = start_order_.size(); i-- > 0;) {
      const Node& node = start_order_[i];
      if (node.extension != extensions) continue;
      spdlog::debug("stopping {}", node.label);
      node.component->Shutdown(deadline);
    }
  }
  telemetry_->Stop();
  state_ = ServiceState::kStopped;
}

Component* Service::GetExtension(const ComponentId& id) {
  auto it = extension_by_id_.find(id);
  return it == extension_by_id_.end() ? nullptr : it->second;
}

void Service::ReportFatalError(const ComponentId& id, const std::string& message) {
  spdlog::error("fatal error in {}: {}", id.str(), message);
  if (!fatal_reported_.exchange(true) && on_fatal_) on_fatal_();
}

}  // namespace otelite
