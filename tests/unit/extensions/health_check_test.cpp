#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "../test_util.h"
#include "components/registry.h"
#include "config/loader.h"

namespace otelite {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A port that was free a moment ago.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// One HTTP/1.0 GET; returns the whole answer (status line, headers, body).
std::string Get(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return "connect failed";
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: test\r\n\r\n";
  (void)write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  close(fd);
  return out;
}

std::string Body(const std::string& answer) { return answer.substr(answer.find("\r\n\r\n") + 4); }

struct Started {
  std::unique_ptr<Extension> extension;
  int port;
};

Started StartHealthCheck(testing::FakeHost& host, const std::string& extra = "") {
  int port = FreePort();
  config::Errors errors;
  auto node = config::ParseYaml("endpoint: 127.0.0.1:" + std::to_string(port) + "\n" + extra,
                                "health.yaml", errors);
  const auto* factory = static_cast<const ExtensionFactory*>(
      BuiltinRegistry().Find(Kind::kExtension, "health_check").factory);
  auto cfg = factory->ParseConfig(node, config::Ctx{errors, "extensions.health_check"});
  EXPECT_FALSE(errors.HasErrors());
  Started s{factory->Create(CreateSettings{ComponentId("health_check")}, *cfg), port};
  EXPECT_EQ(s.extension->Start(host), "");
  return s;
}

TEST(HealthCheck, FollowsTheServiceStateWithOtelcolsBody) {
  testing::FakeHost host;
  host.set_state(ServiceState::kStarting);
  Started s = StartHealthCheck(host);

  std::string starting = Get(s.port, "/");
  EXPECT_THAT(starting, StartsWith("HTTP/1.1 503"));
  EXPECT_EQ(nlohmann::json::parse(Body(starting))["status"], "Server not available");

  host.set_state(ServiceState::kReady);
  std::string ready = Get(s.port, "/");
  EXPECT_THAT(ready, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(ready, HasSubstr("Content-Type: application/json"));
  auto body = nlohmann::json::parse(Body(ready));
  EXPECT_EQ(body["status"], "Server available");
  EXPECT_THAT(body["upSince"].get<std::string>(), ::testing::MatchesRegex(
                                                      "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z"));
  EXPECT_THAT(body["uptime"].get<std::string>(), ::testing::EndsWith("s"));

  auto again = nlohmann::json::parse(Body(Get(s.port, "/")));
  EXPECT_EQ(again["upSince"], body["upSince"]) << "upSince must not move between probes";

  host.set_state(ServiceState::kStopping);
  EXPECT_THAT(Get(s.port, "/"), StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(Get(s.port, "/elsewhere"), StartsWith("HTTP/1.1 404"));
  s.extension->Shutdown(Clock::now() + std::chrono::seconds(2));
  EXPECT_EQ(Get(s.port, "/"), "connect failed");
}

TEST(HealthCheck, CustomPathAndBodies) {
  testing::FakeHost host;
  Started s = StartHealthCheck(host,
                               "path: /health/status\n"
                               "response_body: {healthy: up, unhealthy: down}\n");
  EXPECT_EQ(Body(Get(s.port, "/health/status")), "up");
  EXPECT_THAT(Get(s.port, "/"), StartsWith("HTTP/1.1 404"));
  host.set_state(ServiceState::kStopping);
  std::string down = Get(s.port, "/health/status");
  EXPECT_THAT(down, StartsWith("HTTP/1.1 503"));
  EXPECT_EQ(Body(down), "down");
  s.extension->Shutdown(Clock::now() + std::chrono::seconds(2));
}

}  // namespace
}  // namespace otelite
