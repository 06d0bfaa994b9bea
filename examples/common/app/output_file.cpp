#include "app/output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "gnnkit/core/error.hpp"

namespace gnnkit::app {

OutputFile::OutputFile(const std::string& path, const char* caller) : path_(path), caller_(caller) {
  namespace fs = std::filesystem;
  if (path.empty()) {
    out_ = stdout;
    return;
  }
  std::error_code ec;
  // Follow a symbolic link: its target is what the user means to replace.
  target_ = fs::exists(fs::path(path), ec) ? fs::canonical(fs::path(path), ec).string() : path;
  if (ec) target_ = path;
  struct stat st {};
  if (::stat(target_.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      throw IoError(caller_, detail::format("cannot write '{}': it is a directory", path_));
    if (!S_ISREG(st.st_mode)) {  // a device or a pipe: written in place
      out_ = std::fopen(target_.c_str(), "wb");
      if (!out_) fail("open", errno);
      return;
    }
  }
  const fs::path t(target_);
  const fs::path dir = t.has_parent_path() ? t.parent_path() : fs::path(".");
  temp_ = (dir / ("." + t.filename().string() + ".tmp.XXXXXX")).string();
  const int fd = ::mkstemp(temp_.data());
  if (fd < 0) {
    const int err = errno;
    temp_.clear();
    throw IoError(caller_, detail::format("cannot write '{}': cannot create a temporary file in '{}': {}",
                                          path_, dir.string(), std::strerror(err)));
  }
  ::fchmod(fd, 0644);  // mkstemp creates 0600; outputs are read like any other file
  out_ = ::fdopen(fd, "wb");
  if (!out_) {
    const int err = errno;
    ::close(fd);
    fail("fdopen", err);
  }
}

OutputFile::~OutputFile() {
  if (out_ && out_ != stdout) std::fclose(out_);
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void OutputFile::fail(const char* what, int err) {
  if (out_ && out_ != stdout) std::fclose(out_);
  out_ = nullptr;
  if (!temp_.empty()) ::unlink(temp_.c_str());
  temp_.clear();
  const std::string where = path_.empty() ? std::string("standard output") : "'" + path_ + "'";
  throw IoError(caller_, detail::format("cannot write {}: {} failed: {}", where, what, std::strerror(err)));
}

void OutputFile::write(std::string_view data) {
  if (std::fwrite(data.data(), 1, data.size(), out_) != data.size()) fail("write", errno);
}

void OutputFile::flush() {
  if (std::fflush(out_) != 0 || std::ferror(out_)) fail("write", errno ? errno : EIO);
}

void OutputFile::commit() {
  flush();
  if (out_ == stdout) {
    committed_ = true;
    return;
  }
  if (!temp_.empty() && ::fsync(::fileno(out_)) != 0) fail("fsync", errno);
  std::FILE* f = out_;
  out_ = nullptr;
  if (std::fclose(f) != 0) fail("close", errno);
  if (!temp_.empty() && ::rename(temp_.c_str(), target_.c_str()) != 0) fail("rename", errno);
  committed_ = true;
}

}  // namespace gnnkit::app
