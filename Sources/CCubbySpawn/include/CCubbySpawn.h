#ifndef CCUBBYSPAWN_H
#define CCUBBYSPAWN_H

#include <spawn.h>

/// Adds "close every descriptor from `lowest` up" to `actions` (glibc 2.34 and later). Returns 0 or an errno value.
int cubby_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int lowest);

/// Adds "change to `path`" to `actions` (glibc 2.29 and later). Returns 0 or an errno value.
int cubby_spawn_add_chdir(posix_spawn_file_actions_t *actions, const char *path);

/// pipe2(fds, O_CLOEXEC). Returns 0, or -1 with errno set.
int cubby_pipe_cloexec(int fds[2]);

#endif
