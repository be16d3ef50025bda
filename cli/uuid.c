/* uuid.c: GPU UUIDs as the CLI's users write them.
 *
 * The region owns the UUID text format (gvr_uuid_parse, gvr_uuid_format); this adds the CLI's rule
 * for telling a UUID from a GPU index in an option: a UUID starts with "GPU-", in any case, since
 * users copy UUIDs from nvidia-smi, `gpuvisor smi` or CUDA_VISIBLE_DEVICES and sometimes retype
 * them. Comparisons are made on the 16 bytes, never on the text. */
#include <stdio.h>
#include <strings.h>

#include "cli/cli.h"

bool cli_uuid_parse(const char *text, uint8_t raw[GVR_UUID_LEN])
{
    char canon[CLI_UUID_TEXT + 1];
    if (strncasecmp(text, "GPU-", 4) != 0)
        return false;
    int n = snprintf(canon, sizeof(canon), "GPU-%s", text + 4);
    if (n < 0 || (size_t)n >= sizeof(canon))
        return false;
    return gvr_uuid_parse(canon, raw) == 0;
}

char *cli_uuid_format(const uint8_t raw[GVR_UUID_LEN], char *buf)
{
    return gvr_uuid_format(raw, buf);
}
