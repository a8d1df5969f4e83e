// otelite: argv, signals and exit codes. Everything else lives in the library.
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "components/registry.h"
#include "config/loader.h"
#include "otelite_version.h"
#include "service/service.h"
#include "service/service_config.h"
#include "telemetry/logging.h"

namespace {

using otelite::Kind;

// Loads, merges and validates; prints every problem. nullopt when there are errors.
std::optional<otelite::ServiceConfig> LoadAndValidate(const std::vector<std::string>& sources) {
  otelite::config::Errors errors;
  otelite::config::ConfNode root = otelite::config::LoadAll(sources, errors);
  otelite::ServiceConfig config;
  if (!errors.HasErrors()) {
    config = otelite::ParseServiceConfig(root, otelite::BuiltinRegistry(), errors);
  }
  size_t error_count = 0;
  for (const auto& e : errors.all()) {
    if (!e.warning) ++error_count;
    std::cerr << (e.warning ? "warning: " : "error: ") << e.mark.str() << ": "
              << (e.path.empty() ? "" : e.path + ": ") << e.message << "\n";
  }
  if (error_count > 0) {
    std::cerr << "otelite: invalid configuration: " << error_count << " error"
              << (error_count == 1 ? "" : "s") << "\n";
    return std::nullopt;
  }
  return config;
}

void PrintComponents() {
  const auto& registry = otelite::BuiltinRegistry();
  for (Kind kind : {Kind::kReceiver, Kind::kProcessor, Kind::kExporter, Kind::kExtension}) {
    std::cout << otelite::KindSectionName(kind) << ":\n";
    for (const auto* f : registry.List(kind)) {
      std::cout << "  " << f->type();
      if (kind != Kind::kExtension) {
        std::cout << " [";
        bool first = true;
        for (auto s : otelite::kAllSignals) {
          if (!f->signals().Has(s)) continue;
          std::cout << (first ? "" : ", ") << otelite::SignalName(s);
          first = false;
        }
        std::cout << "]";
      }
      auto aliases = registry.AliasesOf(f);
      for (const auto& a : aliases) std::cout << " (deprecated name: " << a << ")";
      std::cout << " - " << f->description() << "\n";
      for (const auto& key : f->Describe()) {
        std::cout << "      " << key.key << " = " << key.default_value << "  # "
                  << key.description << "\n";
      }
    }
  }
}

int Run(const std::vector<std::string>& sources) {
  auto config = LoadAndValidate(sources);
  if (!config) return 1;
  otelite::SetupLogging(config->telemetry.log_level, config->telemetry.log_encoding);
  spdlog::info("otelite {} starting with {}", OTELITE_VERSION,
               sources.empty() ? std::string(otelite::config::kDefaultConfigName)
                               : fmt::format("{}", fmt::join(sources, ", ")));
  otelite::Service service(std::move(*config));
  service.set_on_fatal([] { kill(getpid(), SIGTERM); });
  if (std::string err = service.Start(); !err.empty()) {
    spdlog::error("{}", err);
    return 1;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  service.Shutdown();
  spdlog::info("shutdown complete");
  // Every component has stopped, drained and closed its files. Tearing down gRPC's library state
  // would add about a second (its timer threads wind down); nothing is left to lose, so leave now.
  spdlog::shutdown();
  std::fflush(nullptr);
  _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by sigwait() in the main thread only: block them before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"otelite: a lightweight OpenTelemetry collector", "otelite"};
  std::vector<std::string> configs;
  app.add_option("--config", configs,
                 "configuration file (or file:PATH); repeat to merge, later wins")
      ->take_all();
  bool version = false;
  app.add_flag("-v,--version", version, "print the version and exit");
  auto* validate = app.add_subcommand("validate", "check the configuration and exit");
  validate->add_option("--config", configs, "configuration file; repeat to merge")->take_all();
  app.add_subcommand("components", "list the compiled-in components and their settings");
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints and exits 0; any other command-line mistake exits 1, as otelcol's do.
    return app.exit(e) == 0 ? 0 : 1;
  }

  if (version) {
    std::cout << "otelite version " << OTELITE_VERSION << "\n";
    return 0;
  }
  if (app.got_subcommand("components")) {
    PrintComponents();
    return 0;
  }
  if (app.got_subcommand("validate")) {
    return LoadAndValidate(configs) ? 0 : 1;
  }
  return Run(configs);
}
