#pragma once
/// @file
/// Library version: the single source of truth (CMake and pyproject read it from here).

#define GNNKIT_VERSION_MAJOR 0
#define GNNKIT_VERSION_MINOR 1
#define GNNKIT_VERSION_PATCH 0
#define GNNKIT_VERSION_STRING "0.1.0"

namespace gnnkit {
/// @brief The library version as "major.minor.patch".
inline constexpr const char* kVersion = GNNKIT_VERSION_STRING;
}  // namespace gnnkit
