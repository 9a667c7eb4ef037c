/*
 * registry_store.c - the file primitives of the schema registry: atomic
 * replacement of a file, the writer lock, and the crash-point test hook.
 *
 * Atomic replacement is the classic sequence: write a temp file in the same
 * directory, fsync it, rename it over the target, fsync the directory (the
 * rename is only durable once the directory entry is). A crash at any point
 * leaves either the old file or the new one, never a torn one.
 */
#include "tb_registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Temp files are ".<name>.tmp": hidden, and recognisable for cleanup. */
#define TMP_SUFFIX ".tmp"

void tb_store_crash_point(const char *point)
{
    const char *at = getenv("TB_REGISTRY_CRASH_AT");
    if (at && strcmp(at, point) == 0) raise(SIGKILL);
}

static int io_error(tb_error *err, const char *what, const char *path, int e)
{
    if (e == EACCES || e == EPERM || e == EROFS)
        return tb_error_set(err, TB_ERR_IO,
                            "cannot %s %s: %s (the schema registry needs "
                            "write permission there)",
                            what, path, strerror(e));
    return tb_error_set(err, TB_ERR_IO, "cannot %s %s: %s", what, path,
                        strerror(e));
}

static int fsync_dir(const char *dir, tb_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_error(err, "open directory", dir, errno);
    if (fsync(fd) < 0) {
        int e = errno;
        close(fd);
        return io_error(err, "fsync directory", dir, e);
    }
    close(fd);
    return 0;
}

int tb_store_write_atomic(const char *dir, const char *name, const void *data,
                          size_t len, tb_error *err)
{
    char *tmp = NULL, *dst = NULL;
    const char *p = data;
    int fd = -1, rc = -1;

    if (asprintf(&tmp, "%s/.%s%s", dir, name, TMP_SUFFIX) < 0) tmp = NULL;
    if (asprintf(&dst, "%s/%s", dir, name) < 0) dst = NULL;
    if (!tmp || !dst) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        io_error(err, "create", tmp, errno);
        goto fail;
    }
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            io_error(err, "write", tmp, errno);
            goto fail;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) < 0) {
        io_error(err, "fsync", tmp, errno);
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        io_error(err, "close", tmp, errno);
        goto fail;
    }
    fd = -1;
    tb_store_crash_point("before_rename");
    if (rename(tmp, dst) < 0) {
        io_error(err, "rename into place", dst, errno);
        goto fail;
    }
    if (fsync_dir(dir, err) < 0) goto fail;
    rc = 0;
fail:
    if (fd >= 0) close(fd);
    if (rc < 0 && tmp) unlink(tmp);
    free(tmp);
    free(dst);
    return rc;
}

int tb_store_read_file(const char *path, char **data, size_t *len,
                       tb_error *err)
{
    char *buf = NULL;
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;
    struct stat st;

    if (fd < 0) {
        if (errno == ENOENT)
            return tb_error_set(err, TB_ERR_NOT_FOUND, "%s does not exist",
                                path);
        return io_error(err, "open", path, errno);
    }
    if (fstat(fd, &st) < 0) {
        io_error(err, "stat", path, errno);
        goto fail;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        tb_error_set(err, TB_ERR_NOMEM, "out of memory reading %s", path);
        goto fail;
    }
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            io_error(err, "read", path, errno);
            goto fail;
        }
        if (r == 0) break; /* shrank meanwhile: take what is there */
        n += (size_t)r;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    buf = NULL;
    rc = 0;
fail:
    free(buf);
    close(fd);
    return rc;
}

int tb_store_mkdirs(const char *path, tb_error *err)
{
    char *p;
    int rc = -1;
    if (!path || !*path)
        return tb_error_set(err, TB_ERR_CONFIG, "empty directory path");
    if (!(p = strdup(path)))
        return tb_error_set(err, TB_ERR_NOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) == 0) {
            /* Make the new entry durable in its parent. */
            const char *slash = strrchr(p, '/');
            char *parent =
                slash ? strndup(p, slash == p ? 1 : (size_t)(slash - p))
                      : strdup(".");
            int r = parent ? fsync_dir(parent, err)
                           : tb_error_set(err, TB_ERR_NOMEM, "out of memory");
            free(parent);
            if (r < 0) goto fail;
        } else if (errno != EEXIST) {
            io_error(err, "create directory", p, errno);
            goto fail;
        }
        *s = c;
        if (c == '\0') break;
    }
    rc = 0;
fail:
    free(p);
    return rc;
}

int tb_store_lock(const char *dir, int *fd_out, tb_error *err)
{
    char *path = NULL;
    char pid[32];
    int fd = -1, rc = -1;

    if (asprintf(&path, "%s/lock", dir) < 0) {
        path = NULL;
        tb_error_set(err, TB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        io_error(err, "open the lock file", path, errno);
        goto fail;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK) {
            /* The holder wrote its pid after locking; read it for the
             * message (it may be mid-write: then it says "unknown"). */
            ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
            pid[n > 0 ? n : 0] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
            tb_error_set(err, TB_ERR_LOCKED,
                         "schema registry %s is locked: another tributary "
                         "process (pid %s) writes this registry",
                         dir, pid[0] ? pid : "unknown");
        } else {
            io_error(err, "lock", path, errno);
        }
        goto fail;
    }
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        io_error(err, "write the lock file", path, errno);
        goto fail;
    }
    *fd_out = fd;
    fd = -1;
    rc = 0;
fail:
    if (fd >= 0) close(fd);
    free(path);
    return rc;
}

void tb_store_unlock(int fd)
{
    if (fd < 0) return;
    /* Leave the file (and a stale pid) behind: removing it would race with
     * a process that just opened it. The pid is only read while locked. */
    close(fd);
}

void tb_store_clean_temps(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t sl = strlen(TMP_SUFFIX);
    if (!d) return;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' && n > sl + 1 &&
            strcmp(e->d_name + n - sl, TMP_SUFFIX) == 0)
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}
