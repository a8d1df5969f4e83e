#pragma once
#include <memory>
#include <string>

#include "core/component.h"
#include "receivers/otlp/config.h"
#include "receivers/otlp/intake.h"

namespace otelite::receivers::otlp {

// The OTLP/gRPC server: the three collector services, for the signals that have a pipeline.
// Requests arrive as raw bytes so that a malformed one is answered INVALID_ARGUMENT (gRPC's own
// parse failure would be INTERNAL) and the wire bytes travel on without re-encoding.
class GrpcServer {
 public:
  GrpcServer(const GrpcConfig& config, Intake& intake);
  ~GrpcServer();
  std::string Start();
  void Shutdown(Deadline deadline);
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace otelite::receivers::otlp
