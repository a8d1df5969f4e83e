#include "receivers/otlp/grpc_server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace otelite::receivers::otlp {

namespace {

namespace collector = opentelemetry::proto::collector;

// An empty Export*ServiceResponse encodes as zero bytes.
grpc::ByteBuffer EmptyResponse() {
  grpc::Slice slice("", 0);
  return grpc::ByteBuffer(&slice, 1);
}

grpc::Status ToGrpcStatus(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  if (!s.retryable()) return {grpc::StatusCode::INVALID_ARGUMENT, s.message()};
  // Retryable: UNAVAILABLE, with a RetryInfo detail when there is a throttle hint.
  if (s.throttle().count() <= 0) return {grpc::StatusCode::UNAVAILABLE, s.message()};
  google::rpc::RetryInfo info;
  auto ms = s.throttle().count();
  info.mutable_retry_delay()->set_seconds(ms / 1000);
  info.mutable_retry_delay()->set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
  google::rpc::Status detail;
  detail.set_code(grpc::StatusCode::UNAVAILABLE);
  detail.set_message(s.message());
  detail.add_details()->PackFrom(info);
  return {grpc::StatusCode::UNAVAILABLE, s.message(), detail.SerializeAsString()};
}

grpc::Status Handle(Intake& intake, Signal signal, grpc::CallbackServerContext& context,
                    const grpc::ByteBuffer& request, grpc::ByteBuffer* response) {
  // The bytes are in gRPC's buffers already (bounded by max_recv_msg_size_mib); check the budget
  // before copying and decoding them.
  if (Status admit = intake.Admit(request.Length()); !admit.ok()) return ToGrpcStatus(admit);
  std::shared_ptr<ClientMetadata> metadata;
  if (intake.include_metadata()) {
    metadata = std::make_shared<ClientMetadata>();
    for (const auto& [key, value] : context.client_metadata()) {
      std::string k(key.data(), key.size());
      if (k.ends_with("-bin")) continue;
      (*metadata)[k].emplace_back(value.data(), value.size());
    }
  }
  std::vector<grpc::Slice> slices;
  if (!request.Dump(&slices).ok()) return {grpc::StatusCode::INTERNAL, "cannot read request"};
  std::string bytes;
  bytes.reserve(request.Length());
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  Batch batch = Payload::Parse(signal, std::move(bytes), std::move(metadata));
  if (!batch) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "the request is not a valid " + std::string(SignalName(signal)) + " export request"};
  }
  grpc::Status status = ToGrpcStatus(intake.Accept(std::move(batch)));
  if (status.ok()) *response = EmptyResponse();
  return status;
}

template <class ServiceT>
class RawExportService
    : public ServiceT::template WithRawCallbackMethod_Export<typename ServiceT::Service> {
 public:
  RawExportService(Intake& intake, Signal signal) : intake_(intake), signal_(signal) {}
  grpc::ServerUnaryReactor* Export(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(Handle(intake_, signal_, *context, *request, response));
    return reactor;
  }

 private:
  Intake& intake_;
  Signal signal_;
};

}  // namespace

struct GrpcServer::Impl {
  GrpcConfig config;
  Intake& intake;
  RawExportService<collector::trace::v1::TraceService> traces{intake, Signal::kTraces};
  RawExportService<collector::metrics::v1::MetricsService> metrics{intake, Signal::kMetrics};
  RawExportService<collector::logs::v1::LogsService> logs{intake, Signal::kLogs};
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  bool stopped = false;
  Impl(const GrpcConfig& c, Intake& i) : config(c), intake(i) {}
};

GrpcServer::GrpcServer(const GrpcConfig& config, Intake& intake)
    : impl_(std::make_unique<Impl>(config, intake)) {}

GrpcServer::~GrpcServer() { Shutdown(Clock::now()); }

std::string GrpcServer::Start() {
  grpc::ServerBuilder builder;
  std::string address = impl_->config.endpoint;
  if (!address.empty() && address[0] == ':') address = "0.0.0.0" + address;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &impl_->port);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(impl_->config.max_recv_msg_size_mib * 1024 * 1024));
  if (impl_->config.max_concurrent_streams > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                               static_cast<int>(impl_->config.max_concurrent_streams));
  }
  if (impl_->intake.Serves(Signal::kTraces)) builder.RegisterService(&impl_->traces);
  if (impl_->intake.Serves(Signal::kMetrics)) builder.RegisterService(&impl_->metrics);
  if (impl_->intake.Serves(Signal::kLogs)) builder.RegisterService(&impl_->logs);
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || impl_->port == 0) {
    impl_->server.reset();
    return "cannot listen on " + impl_->config.endpoint + " (in use, or not a local address)";
  }
  return {};
}

void GrpcServer::Shutdown(Deadline deadline) {
  if (!impl_->server || impl_->stopped) return;
  impl_->stopped = true;
  // Stops accepting, lets calls in flight finish until the deadline, then cancels the rest.
  auto wall = std::chrono::system_clock::now() +
              std::chrono::duration_cast<std::chrono::system_clock::duration>(
                  deadline - Clock::now());
  impl_->server->Shutdown(wall);
  impl_->server->Wait();
}

int GrpcServer::port() const { return impl_->port; }

}  // namespace otelite::receivers::otlp
