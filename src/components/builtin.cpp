// The one explicit list of the components compiled into otelite. Adding a component touches its
// own folder and one line here.
#include "components/registry.h"

namespace otelite {
namespace receivers::otlp { void Register(Registry&); }
namespace processors::batch { void Register(Registry&); }
namespace processors::memory_limiter { void Register(Registry&); }
namespace exporters::file { void Register(Registry&); }
namespace exporters::debug { void Register(Registry&); }
namespace exporters::otlp { void Register(Registry&); }
namespace exporters::prometheus { void Register(Registry&); }
namespace exporters::jaeger { void Register(Registry&); }
namespace extensions::health_check { void Register(Registry&); }
namespace extensions::file_storage { void Register(Registry&); }

const Registry& BuiltinRegistry() {
  static const Registry registry = [] {
    Registry r;
    receivers::otlp::Register(r);
    processors::batch::Register(r);
    processors::memory_limiter::Register(r);
    exporters::file::Register(r);
    exporters::debug::Register(r);
    exporters::otlp::Register(r);
    exporters::prometheus::Register(r);
    exporters::jaeger::Register(r);
    extensions::health_check::Register(r);
    extensions::file_storage::Register(r);
    return r;
  }();
  return registry;
}

}  // namespace otelite
