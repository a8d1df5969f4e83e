#pragma once
// The names the file_storage extension gives its databases, as otelcol's file_storage names its
// files: <kind>_<type>_<name>[_<client name>], every character other than A-Z a-z 0-9 . - _
// written as ~ and its Unicode code point in 4+ hex digits ("/" -> "~002F", "~" -> "~007E").
#include <string>
#include <string_view>

#include "core/component_id.h"

namespace otelite::extensions::file_storage {

std::string SanitizeFileName(std::string_view name);
std::string FileName(Kind kind, const ComponentId& owner, const std::string& name);

}  // namespace otelite::extensions::file_storage
