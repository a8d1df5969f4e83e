#pragma once
#include <atomic>
#include <chrono>
#include <string>

#include "core/component_id.h"

namespace otelite {

class SelfTelemetry;

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// The state of the whole service, which the health check reports.
enum class ServiceState { kStarting, kReady, kStopping, kStopped };

// What the service offers the components it runs.
class Host {
 public:
  virtual ~Host() = default;
  virtual SelfTelemetry& telemetry() = 0;
  virtual ServiceState state() const = 0;
  virtual Clock::time_point started_at() const = 0;
  // A component that can no longer work after start-up asks the service to stop.
  virtual void ReportFatalError(const ComponentId& id, const std::string& message) = 0;
  // The started extension with this id (e.g. a storage extension), or nullptr.
  virtual class Component* GetExtension(const ComponentId& id) { return nullptr; }
};

// The lifecycle of every component.
//  - Start() runs once, downstream components first; an error string fails start-up.
//  - Shutdown() stops intake, flushes what was accepted (until `deadline`) and releases
//    resources. It is idempotent and safe to call without Start().
class Component {
 public:
  virtual ~Component() = default;
  virtual std::string Start(Host& host) = 0;  // empty on success, else the reason
  virtual void Shutdown(Deadline deadline) = 0;
};

}  // namespace otelite
