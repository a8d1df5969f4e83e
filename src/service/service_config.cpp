#include "service/service_config.h"

#include "exporters/helper/settings.h"

#include <algorithm>
#include <set>

#include "config/schema.h"

namespace otelite {

using config::ConfNode;
using config::Ctx;
using config::Errors;
using config::JoinPath;

const std::map<ComponentId, ComponentEntry>& ServiceConfig::Section(Kind kind) const {
  switch (kind) {
    case Kind::kReceiver: return receivers;
    case Kind::kProcessor: return processors;
    case Kind::kExporter: return exporters;
    default: return extensions;
  }
}

namespace {

constexpr std::string_view kTopLevelKeys[] = {"receivers", "processors", "exporters",
                                              "extensions", "connectors", "service"};

// otelcol's `readers` list; otelite serves one Prometheus pull endpoint.
struct MetricReaders {
  std::string address;  // empty when no reader was given
};

std::string ShowValue(const MetricReaders& r) { return r.address.empty() ? "[]" : r.address; }

bool DecodeValue(const ConfNode& n, MetricReaders& out, const Ctx& ctx) {
  if (n.IsNull()) return true;
  if (!n.IsSequence() || n.items().size() != 1) {
    ctx.Error(n, "expected a list with one pull reader (otelite serves one Prometheus endpoint)");
    return false;
  }
  const ConfNode& reader = n.items()[0];
  const ConfNode* prom = reader.Find("pull");
  prom = prom ? prom->Find("exporter") : nullptr;
  prom = prom ? prom->Find("prometheus") : nullptr;
  if (prom == nullptr || !prom->IsMap()) {
    ctx.Error(reader, "only a pull reader with a prometheus exporter is supported "
                      "(readers[0].pull.exporter.prometheus)");
    return false;
  }
  std::string host = "localhost", port;
  for (const auto& [key, value] : prom->entries()) {
    if (key == "host") host = value.scalar();
    else if (key == "port") port = value.scalar();
    else if (key != "without_scope_info" && key != "without_type_suffix" &&
             key != "without_units" && key != "with_resource_constant_labels") {
      ctx.errors.Add(value.key_mark(), ctx.path + "[0].pull.exporter.prometheus." + key,
                     "unknown key \"" + key + "\" (valid keys: host, port)");
      return false;
    }
  }
  if (port.empty()) {
    ctx.Error(*prom, "readers[0].pull.exporter.prometheus.port is required");
    return false;
  }
  out.address = host + ":" + port;
  return true;
}

// service.telemetry, as a declarative schema over otelcol's layout.
struct MetricsTelemetry {
  std::string address = "localhost:8888";
  std::string level = "normal";
  MetricReaders readers;
  static const config::Schema<MetricsTelemetry>& Schema() {
    static const auto s = config::Schema<MetricsTelemetry>()
        .Field("address", &MetricsTelemetry::address, "host:port of the self-metrics endpoint",
               config::HostPort())
        .Field("level", &MetricsTelemetry::level, "none, basic, normal or detailed",
               config::OneOf({"none", "basic", "normal", "detailed"}))
        .Field("readers", &MetricsTelemetry::readers,
               "otelcol's reader list: one pull reader with a prometheus exporter");
    return s;
  }
};

struct LogsTelemetry {
  std::string level = "info";
  std::string encoding = "console";
  std::vector<std::string> output_paths = {"stderr"};
  std::vector<std::string> error_output_paths = {"stderr"};
  bool development = false;
  bool disable_caller = false;
  bool disable_stacktrace = false;
  std::map<std::string, std::string> initial_fields;
  static const config::Schema<LogsTelemetry>& Schema() {
    auto stderr_only = [](const std::vector<std::string>& v) -> std::string {
      for (const auto& p : v) {
        if (p != "stderr" && p != "stdout") return "only stderr and stdout are supported, got " + p;
      }
      return {};
    };
    static const auto s = config::Schema<LogsTelemetry>()
        .Field("level", &LogsTelemetry::level, "debug, info, warn or error",
               config::OneOf({"debug", "info", "warn", "error"}))
        .Field("encoding", &LogsTelemetry::encoding, "console or json",
               config::OneOf({"console", "json"}))
        .Field("output_paths", &LogsTelemetry::output_paths, "stderr or stdout",
               config::Constraint<std::vector<std::string>>(stderr_only))
        .Field("error_output_paths", &LogsTelemetry::error_output_paths, "stderr or stdout",
               config::Constraint<std::vector<std::string>>(stderr_only))
        .Field("development", &LogsTelemetry::development, "accepted for otelcol compatibility")
        .Field("disable_caller", &LogsTelemetry::disable_caller, "accepted for compatibility")
        .Field("disable_stacktrace", &LogsTelemetry::disable_stacktrace,
               "accepted for compatibility")
        .Field("initial_fields", &LogsTelemetry::initial_fields, "fields added to every log line");
    return s;
  }
};

struct Telemetry {
  MetricsTelemetry metrics;
  LogsTelemetry logs;
  std::map<std::string, std::string> resource;
  static const config::Schema<Telemetry>& Schema() {
    static const auto s = config::Schema<Telemetry>()
        .Field("metrics", &Telemetry::metrics, "self-metrics")
        .Field("logs", &Telemetry::logs, "otelite's own logs")
        .Field("resource", &Telemetry::resource, "resource attributes of the self-telemetry");
    return s;
  }
};

void ParseSection(const ConfNode& root, Kind kind, const Registry& registry, Errors& errors,
                  std::map<ComponentId, ComponentEntry>& out) {
  std::string section(KindSectionName(kind));
  const ConfNode* node = root.Find(section);
  if (node == nullptr || node->IsNull()) return;
  if (!node->IsMap()) {
    errors.Add(node->mark(), section, "expected a map, got " + std::string(node->TypeName()));
    return;
  }
  for (const auto& [key, value] : node->entries()) {
    std::string path = JoinPath(section, key);
    ComponentId id;
    if (std::string why = ComponentId::Parse(key, &id); !why.empty()) {
      errors.Add(value.key_mark(), path, why);
      continue;
    }
    auto found = registry.Find(kind, id.type());
    if (found.factory == nullptr) {
      errors.Add(value.key_mark(), path,
                 "unknown " + std::string(KindName(kind)) + " type \"" + id.type() +
                     "\" (supported: " + registry.TypeNames(kind) + ")");
      continue;
    }
    if (found.deprecated_alias) {
      errors.Warn(value.key_mark(), path,
                  "\"" + id.type() + "\" is a deprecated name of " + std::string(KindName(kind)) +
                      " type \"" + std::string(found.factory->type()) + "\"; use the new name");
    }
    ComponentEntry entry;
    entry.id = id;
    entry.factory = found.factory;
    entry.path = path;
    entry.mark = value.key_mark();
    entry.config = found.factory->ParseConfig(value, Ctx{errors, path});
    out.emplace(id, std::move(entry));
  }
}

// Parses a list of component ids at `node`, checking each is defined in `defined`.
std::vector<ComponentId> ParseIdList(const ConfNode* node, const std::string& path, Kind kind,
                                     const std::map<ComponentId, ComponentEntry>& defined,
                                     Errors& errors) {
  std::vector<ComponentId> ids;
  if (node == nullptr || node->IsNull()) return ids;
  if (!node->IsSequence()) {
    errors.Add(node->mark(), path, "expected a list of component ids, got " +
                                       std::string(node->TypeName()));
    return ids;
  }
  std::set<ComponentId> seen;
  for (size_t i = 0; i < node->items().size(); ++i) {
    const ConfNode& item = node->items()[i];
    std::string item_path = path + "[" + std::to_string(i) + "]";
    ComponentId id;
    if (!item.IsScalar()) {
      errors.Add(item.mark(), item_path, "expected a component id");
      continue;
    }
    if (std::string why = ComponentId::Parse(item.scalar(), &id); !why.empty()) {
      errors.Add(item.mark(), item_path, why);
      continue;
    }
    if (!defined.count(id)) {
      errors.Add(item.mark(), path,
                 "references " + std::string(KindName(kind)) + " \"" + id.str() +
                     "\" which is not configured");
      continue;
    }
    if (!seen.insert(id).second) {
      errors.Add(item.mark(), path, "references \"" + id.str() + "\" more than once");
      continue;
    }
    ids.push_back(id);
  }
  return ids;
}

void ParsePipelines(const ConfNode& service, ServiceConfig& cfg, Errors& errors) {
  const ConfNode* pipelines = service.Find("pipelines");
  if (pipelines == nullptr || pipelines->IsNull() ||
      (pipelines->IsMap() && pipelines->entries().empty())) {
    errors.Add(pipelines ? pipelines->mark() : service.mark(), "service.pipelines",
               "at least one pipeline must be configured");
    return;
  }
  if (!pipelines->IsMap()) {
    errors.Add(pipelines->mark(), "service.pipelines", "expected a map");
    return;
  }
  for (const auto& [key, value] : pipelines->entries()) {
    std::string path = JoinPath("service.pipelines", key);
    ComponentId pid;
    if (std::string why = ComponentId::Parse(key, &pid); !why.empty()) {
      errors.Add(value.key_mark(), path, why);
      continue;
    }
    auto signal = ParseSignal(pid.type());
    if (!signal) {
      errors.Add(value.key_mark(), path,
                 "unsupported pipeline signal \"" + pid.type() +
                     "\" (supported: traces, metrics, logs)");
      continue;
    }
    PipelineConfig p;
    p.id = key;
    p.signal = *signal;
    p.mark = value.key_mark();
    if (!value.IsMap()) {
      errors.Add(value.mark(), path, "expected a map with receivers, processors and exporters");
      continue;
    }
    for (const auto& [k, v] : value.entries()) {
      if (k != "receivers" && k != "processors" && k != "exporters") {
        errors.Add(v.key_mark(), JoinPath(path, k),
                   "unknown key \"" + k + "\" (valid keys: receivers, processors, exporters)");
      }
    }
    p.receivers = ParseIdList(value.Find("receivers"), path + ".receivers", Kind::kReceiver,
                              cfg.receivers, errors);
    p.processors = ParseIdList(value.Find("processors"), path + ".processors", Kind::kProcessor,
                               cfg.processors, errors);
    p.exporters = ParseIdList(value.Find("exporters"), path + ".exporters", Kind::kExporter,
                              cfg.exporters, errors);
    auto require_some = [&](const char* list, const char* what) {
      const ConfNode* n = value.Find(list);
      if (n == nullptr || n->IsNull() || (n->IsSequence() && n->items().empty())) {
        errors.Add(n ? n->mark() : value.mark(), path + "." + list,
                   std::string("must have at least one ") + what);
      }
    };
    require_some("receivers", "receiver");
    require_some("exporters", "exporter");
    // Every component must support the pipeline's signal.
    auto check_signal = [&](const std::vector<ComponentId>& ids, const char* list,
                            const std::map<ComponentId, ComponentEntry>& defined) {
      for (const auto& id : ids) {
        const auto& entry = defined.at(id);
        if (!entry.factory->signals().Has(p.signal)) {
          const ConfNode* list_node = value.Find(list);
          errors.Add(list_node ? list_node->mark() : value.mark(), path + "." + list,
                     std::string(KindName(entry.factory->kind())) + " \"" + id.str() +
                         "\" does not support " + std::string(SignalName(p.signal)));
        }
      }
    };
    check_signal(p.receivers, "receivers", cfg.receivers);
    check_signal(p.processors, "processors", cfg.processors);
    check_signal(p.exporters, "exporters", cfg.exporters);
    cfg.pipelines.push_back(std::move(p));
  }
}

// host:port -> (host, port); host may be empty (all interfaces).
bool SplitEndpoint(const std::string& endpoint, std::string* host, std::string* port) {
  auto colon = endpoint.rfind(':');
  if (colon == std::string::npos) return false;
  *host = endpoint.substr(0, colon);
  *port = endpoint.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  if (*host == "localhost") *host = "127.0.0.1";
  if (*host == "0.0.0.0" || *host == "::") host->clear();
  return !port->empty();
}

// The deepest node on a dotted YAML path (keys may themselves contain dots).
const ConfNode& ResolvePath(const ConfNode& root, std::string_view path) {
  const ConfNode* at = &root;
  while (!path.empty() && at->IsMap()) {
    const ConfNode* next = nullptr;
    size_t used = 0;
    for (const auto& [key, value] : at->entries()) {
      if (path.substr(0, key.size()) == key &&
          (path.size() == key.size() || path[key.size()] == '.') && key.size() > used) {
        next = &value;
        used = key.size();
      }
    }
    if (next == nullptr) break;
    at = next;
    path.remove_prefix(std::min(path.size(), used + 1));
  }
  return *at;
}

void CheckPortConflicts(const ConfNode& root, const ServiceConfig& cfg, Errors& errors) {
  std::vector<ListenAddress> addresses;
  std::set<ComponentId> used_receivers;
  for (const auto& p : cfg.pipelines) used_receivers.insert(p.receivers.begin(), p.receivers.end());
  for (const auto& id : used_receivers) {
    const auto& e = cfg.receivers.at(id);
    auto a = e.factory->Endpoints(*e.config, e.path);
    addresses.insert(addresses.end(), a.begin(), a.end());
  }
  // Exporters that listen (the prometheus exporter serves its own endpoint).
  std::set<ComponentId> used_exporters;
  for (const auto& p : cfg.pipelines) used_exporters.insert(p.exporters.begin(), p.exporters.end());
  for (const auto& id : used_exporters) {
    const auto& e = cfg.exporters.at(id);
    auto a = e.factory->Endpoints(*e.config, e.path);
    addresses.insert(addresses.end(), a.begin(), a.end());
  }
  for (const auto& id : cfg.enabled_extensions) {
    const auto& e = cfg.extensions.at(id);
    auto a = e.factory->Endpoints(*e.config, e.path);
    addresses.insert(addresses.end(), a.begin(), a.end());
  }
  if (cfg.telemetry.metrics_level != "none" && !cfg.telemetry.metrics_address.empty()) {
    addresses.push_back({cfg.telemetry.metrics_address, "service.telemetry.metrics.address",
                         cfg.telemetry.metrics_address_mark});
  }
  for (auto& a : addresses) {
    if (!a.mark.file) a.mark = ResolvePath(root, a.path).mark();
  }
  for (size_t i = 0; i < addresses.size(); ++i) {
    std::string hi, pi;
    if (!SplitEndpoint(addresses[i].endpoint, &hi, &pi)) {
      errors.Add(addresses[i].mark, addresses[i].path,
                 "endpoint \"" + addresses[i].endpoint + "\" is not host:port");
      continue;
    }
    if (pi == "0") continue;  // an ephemeral port never conflicts
    for (size_t j = 0; j < i; ++j) {
      std::string hj, pj;
      if (!SplitEndpoint(addresses[j].endpoint, &hj, &pj) || pi != pj) continue;
      if (hi == hj || hi.empty() || hj.empty()) {
        errors.Add(addresses[i].mark, addresses[i].path,
                   "endpoint " + addresses[i].endpoint + " is already used by " +
                       addresses[j].path + " (" + addresses[j].mark.str() + ")");
      }
    }
  }
}

}  // namespace

namespace {

// sending_queue.storage must name a storage extension that service.extensions enables.
void CheckQueueStorage(const ConfNode& root, const ServiceConfig& cfg, Errors& errors) {
  for (const auto& [id, e] : cfg.exporters) {
    const auto* helper = static_cast<const ExporterFactory*>(e.factory)->HelperSettings(*e.config);
    if (helper == nullptr || helper->sending_queue.storage.empty()) continue;
    const ConfNode* node = root.Find("exporters");
    for (const std::string& key : {id.str(), std::string("sending_queue"), std::string("storage")}) {
      const ConfNode* next = node ? node->Find(key) : nullptr;
      if (next == nullptr) break;
      node = next;
    }
    config::Mark mark = node ? node->mark() : e.mark;
    std::string path = e.path + ".sending_queue.storage";
    ComponentId storage;
    if (std::string err = ComponentId::Parse(helper->sending_queue.storage, &storage);
        !err.empty()) {
      errors.Add(mark, path, err);
      continue;
    }
    auto it = cfg.extensions.find(storage);
    bool enabled = std::find(cfg.enabled_extensions.begin(), cfg.enabled_extensions.end(),
                             storage) != cfg.enabled_extensions.end();
    if (it == cfg.extensions.end() || !enabled) {
      errors.Add(mark, path,
                 "\"" + storage.str() + "\" is not an enabled storage extension (define it under "
                 "extensions and list it in service.extensions)");
    } else if (storage.type() != "file_storage") {
      errors.Add(mark, path, "\"" + storage.str() + "\" is not a storage extension");
    }
  }
}

}  // namespace

ServiceConfig ParseServiceConfig(const ConfNode& root, const Registry& registry, Errors& errors) {
  ServiceConfig cfg;
  if (!root.IsMap()) return cfg;
  for (const auto& [key, value] : root.entries()) {
    if (std::find(std::begin(kTopLevelKeys), std::end(kTopLevelKeys), key) ==
        std::end(kTopLevelKeys)) {
      errors.Add(value.key_mark(), key,
                 "unknown top-level section \"" + key +
                     "\" (valid: receivers, processors, exporters, extensions, connectors, "
                     "service)");
    }
  }
  ParseSection(root, Kind::kReceiver, registry, errors, cfg.receivers);
  ParseSection(root, Kind::kProcessor, registry, errors, cfg.processors);
  ParseSection(root, Kind::kExporter, registry, errors, cfg.exporters);
  ParseSection(root, Kind::kExtension, registry, errors, cfg.extensions);
  if (const ConfNode* connectors = root.Find("connectors");
      connectors && connectors->IsMap() && !connectors->entries().empty()) {
    for (const auto& [key, value] : connectors->entries()) {
      errors.Add(value.key_mark(), JoinPath("connectors", key),
                 "connectors are not supported by otelite yet (supported: none)");
    }
  }

  const ConfNode* service = root.Find("service");
  if (service == nullptr || !service->IsMap()) {
    errors.Add(service ? service->mark() : root.mark(), "service",
               "the service section with pipelines is required");
    return cfg;
  }
  for (const auto& [key, value] : service->entries()) {
    if (key != "pipelines" && key != "extensions" && key != "telemetry" &&
        key != "shutdown_timeout") {
      errors.Add(value.key_mark(), JoinPath("service", key),
                 "unknown key \"" + key +
                     "\" (valid keys: extensions, pipelines, telemetry, shutdown_timeout)");
    }
  }
  cfg.enabled_extensions = ParseIdList(service->Find("extensions"), "service.extensions",
                                       Kind::kExtension, cfg.extensions, errors);
  if (const ConfNode* t = service->Find("shutdown_timeout")) {
    Ctx ctx{errors, "service.shutdown_timeout"};
    config::DecodeValue(*t, cfg.shutdown_timeout, ctx);
  }
  Telemetry telemetry;
  if (const ConfNode* t = service->Find("telemetry")) {
    Telemetry::Schema().Decode(*t, telemetry, Ctx{errors, "service.telemetry"});
    if (const ConfNode* a = t->Find("metrics"); a && a->Find("readers")) {
      cfg.telemetry.metrics_address_mark = a->Find("readers")->mark();
    } else if (a && a->Find("address")) {
      cfg.telemetry.metrics_address_mark = a->Find("address")->mark();
    } else {
      cfg.telemetry.metrics_address_mark = t->mark();
    }
  } else {
    cfg.telemetry.metrics_address_mark = service->mark();
  }
  cfg.telemetry.metrics_address = telemetry.metrics.readers.address.empty()
                                      ? telemetry.metrics.address
                                      : telemetry.metrics.readers.address;
  cfg.telemetry.metrics_level = telemetry.metrics.level;
  cfg.telemetry.log_level = telemetry.logs.level;
  cfg.telemetry.log_encoding = telemetry.logs.encoding;

  ParsePipelines(*service, cfg, errors);

  // Defined but unused receivers and exporters: a warning, as otelcol.
  std::set<ComponentId> used_r, used_e;
  for (const auto& p : cfg.pipelines) {
    used_r.insert(p.receivers.begin(), p.receivers.end());
    used_e.insert(p.exporters.begin(), p.exporters.end());
  }
  for (const auto& [id, e] : cfg.receivers) {
    if (!used_r.count(id)) errors.Warn(e.mark, e.path, "receiver is not used by any pipeline");
  }
  for (const auto& [id, e] : cfg.exporters) {
    if (!used_e.count(id)) errors.Warn(e.mark, e.path, "exporter is not used by any pipeline");
  }
  CheckPortConflicts(root, cfg, errors);
  CheckQueueStorage(root, cfg, errors);
  return cfg;
}

}  // namespace otelite
