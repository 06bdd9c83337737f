/* atomic-file.h -- replace a file so that a crash leaves the old or the new content.
 *
 * vnet_atomic_write() writes 'PATH.tmp', fsyncs it, renames it over 'PATH' and
 * fsyncs the directory, so after a crash at any point 'PATH' holds either its
 * previous content or the new one, never a mix. */
#ifndef VNET_ATOMIC_FILE_H
#define VNET_ATOMIC_FILE_H 1

#include <stddef.h>
#include <sys/types.h>

/* Returns 0 or -errno ('PATH' unchanged then). */
int vnet_atomic_write(const char *path, const void *data, size_t len, mode_t mode);

/* Creates directory 'path' and its missing parents with 'mode'.  Returns 0 or
 * -errno. */
int vnet_mkdir_p(const char *path, mode_t mode);

/* Removes directory 'path' and the files in it (not subdirectories: a directory
 * this program filled with files, such as a dump).  Returns 0 or -errno. */
int vnet_remove_flat_dir(const char *path);

/* fsyncs the directory that holds 'path'.  Returns 0 or -errno. */
int vnet_fsync_parent(const char *path);

#endif
