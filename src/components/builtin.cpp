// The one explicit list of the components compiled into otelite. Adding a component touches its
// own folder and one line here.
#include "components/registry.h"

namespace otelite {
namespace receivers::otlp { void Register(Registry&); }
namespace exporters::file { void Register(Registry&); }
namespace exporters::debug { void Register(Registry&); }
namespace exporters::otlp { void Register(Registry&); }
namespace extensions::health_check { void Register(Registry&); }

const Registry& BuiltinRegistry() {
  static const Registry registry = [] {
    Registry r;
    receivers::otlp::Register(r);
    exporters::file::Register(r);
    exporters::debug::Register(r);
    exporters::otlp::Register(r);
    extensions::health_check::Register(r);
    return r;
  }();
  return registry;
}

}  // namespace otelite
