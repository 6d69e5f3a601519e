#include "reins/config/migrate.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "reins/config/config.hpp"
#include "reins/config/emit.hpp"

namespace reins::config {
namespace {

Error errno_error(int err, std::string context) {
    return Error(std::error_code(err, std::generic_category()), std::move(context));
}

std::string effective_text(const Config& cfg) { return to_toml(to_document(cfg, EmitMode::effective)); }

}  // namespace

MigrationPlan plan_migration(std::string_view text, const std::string& path) {
    MigrationPlan plan;
    std::string name = std::filesystem::path(path).filename().string();
    if (name.rfind("Procfile", 0) == 0) {
        plan.ok = false;
        plan.diagnostics.push_back(Diagnostic{Severity::error, path, 0, 0, {},
                                              "a Procfile has no versions: there is nothing to migrate",
                                              "write a reins.toml to use more than a Procfile can say", {}});
        return plan;
    }
    auto r = load_toml(text, path);
    plan.diagnostics = r.diagnostics;
    if (!r.ok()) {
        plan.ok = false;
        return plan;
    }
    const Config& cfg = r.config;
    if (cfg.format == Format::legacy) {
        plan.from = "the legacy single-server format (version 0)";
        std::string out = "# Migrated by `reins config migrate` from the legacy single-server format;\n"
                          "# the original is kept beside this file as " + name + ".bak.\n";
        for (const auto& u : cfg.legacy_unused) out += "# Not used by reins: " + u + "\n";
        out += "\n" + to_toml(to_document(cfg, EmitMode::minimal));
        plan.text = std::move(out);
    } else if (cfg.version_missing) {
        plan.from = "version 1 without `version`";
        std::string_view body = text;
        std::string bom;
        if (body.substr(0, 3) == "\xEF\xBB\xBF") {
            bom = std::string(body.substr(0, 3));
            body.remove_prefix(3);
        }
        plan.text = bom + "version = " + std::to_string(current_version) + "\n\n" + std::string(body);
    } else {
        plan.from = "version " + std::to_string(cfg.version);
        return plan;  // already current
    }
    // Never write a file that would mean something else.
    auto again = load_toml(plan.text, path);
    if (!again.ok() || effective_text(again.config) != effective_text(cfg)) {
        plan.ok = false;
        plan.diagnostics.push_back(Diagnostic{Severity::error, path, 0, 0, {},
                                              "the migrated file would not load to the same configuration "
                                              "(a bug in reins): nothing was written",
                                              "please report it with the file", {}});
        return plan;
    }
    plan.needed = true;
    return plan;
}

Result<void> write_file_atomic(const std::string& path, std::string_view text, unsigned mode) {
    std::string tmp = path + ".tmp-XXXXXX";
    int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
    if (fd < 0) return fail(errno_error(errno, "create a temporary file beside " + path));
    auto abandon = [&](int err, const std::string& what) {
        if (fd >= 0) ::close(fd);
        ::unlink(tmp.c_str());
        return fail(errno_error(err, what));
    };
    if (::fchmod(fd, mode) != 0) return abandon(errno, "chmod " + tmp);
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return abandon(errno, "write " + tmp);
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) return abandon(errno, "fsync " + tmp);
    int rc = ::close(fd);
    fd = -1;
    if (rc != 0) return abandon(errno, "close " + tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return abandon(errno, "rename " + tmp + " to " + path);
    // The rename is durable once the folder is.
    std::string dir = std::filesystem::path(path).parent_path().string();
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

Result<std::string> apply_migration(const std::string& path, std::string_view original, const MigrationPlan& plan) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return fail(errno_error(errno, path));
    unsigned mode = st.st_mode & 07777;
    std::string backup = path + ".bak";
    if (auto r = write_file_atomic(backup, original, mode); !r) return fail(r.error());
    if (auto r = write_file_atomic(path, plan.text, mode); !r) return fail(r.error());
    return backup;
}

Result<MigrationOutcome> migrate_file(const std::string& path) {
    auto text = read_text_file(path);
    if (!text) return fail(text.error());
    MigrationOutcome out;
    out.plan = plan_migration(*text, path);
    if (!out.plan.ok) {
        LoadResult r;
        r.diagnostics = out.plan.diagnostics;
        return fail(r.error());
    }
    if (!out.plan.needed) return out;
    auto backup = apply_migration(path, *text, out.plan);
    if (!backup) return fail(backup.error());
    out.backup = *backup;
    return out;
}

}  // namespace reins::config
