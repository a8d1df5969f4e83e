#include "components/registry.h"
#include "exporters/otlp/config.h"

namespace otelite::exporters::otlp {

void Register(Registry& registry) {
  registry.Add(NewGrpcFactory(), {kGrpcDeprecatedType});
  registry.Add(NewHttpFactory(), {kHttpDeprecatedType});
}

}  // namespace otelite::exporters::otlp
