/* SPDX-License-Identifier: Apache-2.0 */
/* cli_empty.c: a shared library that does nothing, for the tests of LD_PRELOAD composition: it
 * stands for a library the user already preloads, which `gpuvisor run` must keep. */
int cli_empty_marker(void);

int cli_empty_marker(void)
{
    return 0;
}
