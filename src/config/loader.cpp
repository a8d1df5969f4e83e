#include "config/loader.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace otelite::config {

namespace {

Mark MakeMark(const std::shared_ptr<const std::string>& file, const YAML::Mark& m) {
  return Mark{file, m.is_null() ? 0 : m.line + 1, m.is_null() ? 0 : m.column + 1};
}

ConfNode Convert(const YAML::Node& node, const std::shared_ptr<const std::string>& file,
                 Errors& errors, const std::string& path) {
  Mark mark = MakeMark(file, node.Mark());
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: {
      ConfNode n;
      n.set_mark(mark);
      return n;
    }
    case YAML::NodeType::Scalar:
      // yaml-cpp tags a quoted scalar "!" and a plain one "?".
      return ConfNode::Scalar(node.Scalar(), mark, node.Tag() == "!");
    case YAML::NodeType::Sequence: {
      ConfNode n = ConfNode::Sequence(mark);
      size_t i = 0;
      for (const auto& item : node) {
        n.items().push_back(Convert(item, file, errors, path + "[" + std::to_string(i++) + "]"));
      }
      return n;
    }
    case YAML::NodeType::Map: {
      ConfNode n = ConfNode::Map(mark);
      for (const auto& kv : node) {
        std::string key_path = JoinPath(path, kv.first.Scalar());
        ConfNode value = Convert(kv.second, file, errors, key_path);
        Mark key_mark = MakeMark(file, kv.first.Mark());
        if (const ConfNode* earlier = n.Find(kv.first.Scalar())) {
          // yaml-cpp keeps the last of two equal keys; otelcol refuses the file, and so do we.
          errors.Add(key_mark, key_path,
                     "duplicate key (first defined at line " +
                         std::to_string(earlier->key_mark().line) + ")");
        }
        // A key with no value (`key:`) has no mark of its own; point at the key.
        if (value.IsNull()) value.set_mark(key_mark);
        value.set_key_mark(key_mark);
        n.Set(kv.first.Scalar(), std::move(value));
      }
      return n;
    }
  }
  return {};
}

}  // namespace

ConfNode ParseYaml(std::string_view text, const std::string& name, Errors& errors) {
  auto file = std::make_shared<const std::string>(name);
  try {
    YAML::Node root = YAML::Load(std::string(text));
    ConfNode n = Convert(root, file, errors, "");
    if (!n.IsMap() && !n.IsNull()) {
      errors.Add(n.mark(), "", "the configuration must be a map, not " + std::string(n.TypeName()));
      return {};
    }
    if (n.IsNull()) n = ConfNode::Map(Mark{file, 1, 1});
    return n;
  } catch (const YAML::Exception& e) {
    errors.Add(MakeMark(file, e.mark), "", "YAML syntax error: " + e.msg);
    return {};
  }
}

ConfNode LoadConfigSource(const std::string& source, Errors& errors) {
  std::string path = source;
  auto colon = source.find(':');
  if (colon != std::string::npos && colon > 1) {  // a scheme (but not a Windows drive letter)
    std::string scheme = source.substr(0, colon);
    if (scheme == "file") {
      path = source.substr(colon + 1);
    } else if (scheme.find('/') == std::string::npos) {
      errors.Add(Mark{std::make_shared<const std::string>(source)}, "",
                 "unsupported config source scheme \"" + scheme + "\" (supported: file)");
      return {};
    }
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    errors.Add(Mark{std::make_shared<const std::string>(path)}, "",
               "is a directory, not a configuration file");
    return {};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors.Add(Mark{std::make_shared<const std::string>(path)}, "", "cannot read the file");
    return {};
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseYaml(text.str(), path, errors);
}

void Merge(ConfNode& base, const ConfNode& overlay) {
  if (base.IsMap() && overlay.IsMap()) {
    for (const auto& [key, value] : overlay.entries()) {
      if (ConfNode* existing = base.Find(key)) {
        Merge(*existing, value);
      } else {
        base.Set(key, value);
      }
    }
    return;
  }
  base = overlay;
}

namespace {

// Expands one scalar. Returns false (and reports) on a malformed reference.
bool ExpandString(const std::string& in, std::string* out, const Mark& mark,
                  const std::string& path, Errors& errors) {
  out->clear();
  for (size_t i = 0; i < in.size();) {
    if (in[i] != '$') {
      out->push_back(in[i++]);
      continue;
    }
    if (i + 1 < in.size() && in[i + 1] == '$') {  // $$ -> $
      out->push_back('$');
      i += 2;
      continue;
    }
    if (i + 1 >= in.size() || in[i + 1] != '{') {
      out->push_back(in[i++]);
      continue;
    }
    auto close = in.find('}', i + 2);
    if (close == std::string::npos) {
      errors.Add(mark, path, "unterminated ${...} reference in \"" + in + "\"");
      return false;
    }
    std::string ref = in.substr(i + 2, close - i - 2);
    std::string name = ref;
    // A provider is what stands before the first ':' unless that ':' starts ":-" (a default).
    if (auto colon = ref.find(':');
        colon != std::string::npos && ref.compare(colon, 2, ":-") != 0) {
      if (ref.compare(0, colon, "env") != 0) {
        errors.Add(mark, path,
                   "unsupported config provider in \"${" + ref + "}\" (supported: env)");
        return false;
      }
      name = ref.substr(colon + 1);
    }
    std::string fallback;
    bool has_fallback = false;
    if (auto dash = name.find(":-"); dash != std::string::npos) {
      fallback = name.substr(dash + 2);
      name = name.substr(0, dash);
      has_fallback = true;
    }
    const char* value = std::getenv(name.c_str());
    if (value != nullptr && (*value != '\0' || !has_fallback)) {
      out->append(value);
    } else if (has_fallback) {
      out->append(fallback);
    } else {
      errors.Warn(mark, path, "environment variable " + name + " is not set; using \"\"");
    }
    i = close + 1;
  }
  return true;
}

}  // namespace

void ExpandEnv(ConfNode& node, const std::string& path, Errors& errors) {
  switch (node.type()) {
    case ConfNode::Type::kScalar: {
      if (node.scalar().find('$') == std::string::npos) return;
      std::string expanded;
      if (ExpandString(node.scalar(), &expanded, node.mark(), path, errors)) {
        node.set_scalar(std::move(expanded));
      }
      return;
    }
    case ConfNode::Type::kSequence:
      for (size_t i = 0; i < node.items().size(); ++i) {
        ExpandEnv(node.items()[i], path + "[" + std::to_string(i) + "]", errors);
      }
      return;
    case ConfNode::Type::kMap:
      for (auto& [key, value] : node.entries()) ExpandEnv(value, JoinPath(path, key), errors);
      return;
    case ConfNode::Type::kNull:
      return;
  }
}

ConfNode LoadAll(const std::vector<std::string>& sources, Errors& errors) {
  ConfNode merged;
  if (sources.empty()) {
    merged = ParseYaml(kDefaultConfigYaml, std::string(kDefaultConfigName), errors);
  }
  for (const auto& source : sources) {
    ConfNode one = LoadConfigSource(source, errors);
    if (merged.IsNull()) {
      merged = std::move(one);
    } else if (!one.IsNull()) {
      Merge(merged, one);
    }
  }
  ExpandEnv(merged, "", errors);
  return merged;
}

}  // namespace otelite::config
