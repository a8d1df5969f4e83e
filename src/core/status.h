#pragma once
#include <chrono>
#include <string>
#include <utility>

namespace otelite {

// The outcome of handing data on. Errors on the data path are values, never exceptions.
// Retryable means the client should send again later (OTLP: gRPC UNAVAILABLE / HTTP 503),
// optionally after `throttle`; permanent means sending again will not help (INVALID_ARGUMENT / 400).
class Status {
 public:
  enum class Code { kOk, kRetryable, kPermanent };

  Status() = default;
  static Status Ok() { return {}; }
  static Status Retryable(std::string message,
                          std::chrono::milliseconds throttle = std::chrono::milliseconds(0)) {
    return Status(Code::kRetryable, std::move(message), throttle);
  }
  static Status Permanent(std::string message) {
    return Status(Code::kPermanent, std::move(message), {});
  }

  bool ok() const { return code_ == Code::kOk; }
  bool retryable() const { return code_ == Code::kRetryable; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::chrono::milliseconds throttle() const { return throttle_; }

 private:
  Status(Code code, std::string message, std::chrono::milliseconds throttle)
      : code_(code), message_(std::move(message)), throttle_(throttle) {}

  Code code_ = Code::kOk;
  std::string message_;
  std::chrono::milliseconds throttle_{0};
};

}  // namespace otelite
