#pragma once
/// @file
/// Output files of the example apps: written so that a failure never leaves a partial file nor
/// destroys an existing one, and so that write errors are reported, never ignored.
#include <cstdio>
#include <string>
#include <string_view>

namespace gnnkit::app {

/// @brief An output stream to `path`, or to stdout when `path` is empty.
///
/// A regular file (or a new one) is written to a unique temporary file in the same folder and
/// renamed over `path` by commit(); a symbolic link is followed (its target is replaced, not
/// the link). Anything else that exists (a device such as /dev/null, a pipe) is written in
/// place: renaming over it would replace it. Without commit() (an exception on the way), the
/// temporary file is removed and `path` is left as it was.
class OutputFile {
 public:
  /// @param caller the function name error messages start with
  /// @throws gnnkit::IoError naming the path and the OS error (a folder, a missing folder)
  OutputFile(const std::string& path, const char* caller);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  std::FILE* stream() const noexcept { return out_; }
  /// @brief Writes all of `data`. @throws gnnkit::IoError on a write error (a full disk)
  void write(std::string_view data);
  /// @brief Flushes (streaming output). @throws gnnkit::IoError on a write error
  void flush();
  /// @brief Flushes, closes and renames the temporary file into place.
  /// @throws gnnkit::IoError on any error, the temporary file removed
  void commit();

 private:
  [[noreturn]] void fail(const char* what, int err);
  std::string path_, target_, temp_;
  const char* caller_;
  std::FILE* out_ = nullptr;
  bool committed_ = false;
};

}  // namespace gnnkit::app
