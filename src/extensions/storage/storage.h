#pragma once
// The storage interface that backs persistent queues (sending_queue.storage), as otelcol's
// storage extensions do. The file_storage extension implements it.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "components/factory.h"

namespace otelite::extensions {

// A key-value store private to one component (and signal). Keys are bytes; iteration is in
// ascending byte order, so big-endian integers iterate in numeric order. Thread-safe.
// Every method returns an empty string on success, else the reason.
class StorageClient {
 public:
  virtual ~StorageClient() = default;
  virtual std::string Put(std::string_view key, std::string_view value) = 0;
  virtual std::string Delete(std::string_view key) = 0;
  // Sets `*value` (nullopt when the key is absent).
  virtual std::string Get(std::string_view key, std::optional<std::string>* value) = 0;
  // Calls `fn` for every entry in key order until it returns false.
  virtual std::string ForEach(
      const std::function<bool(std::string_view key, std::string_view value)>& fn) = 0;
};

class StorageExtension : public Extension {
 public:
  // A client for the component `owner` of the given kind; `name` separates several stores of one
  // component (e.g. one per signal). Only valid between Start() and Shutdown().
  virtual std::unique_ptr<StorageClient> GetClient(Kind kind, const ComponentId& owner,
                                                   const std::string& name,
                                                   std::string* error) = 0;
};

}  // namespace otelite::extensions
