/* SPDX-License-Identifier: Apache-2.0 */
/* real_sym.h: the address of a function in a loaded library as that library defines it, found in
 * the library file's own dynamic symbol table. An interposer (LD_PRELOAD, a dlsym wrapper) cannot
 * stand in the way, so a benchmark preloaded with libgpuvisor.so can call the driver directly and
 * through the interposer in the same process, batch after batch, and compare the two. */
#ifndef GV_BENCH_REAL_SYM_H
#define GV_BENCH_REAL_SYM_H

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* NULL when the library is not loaded, its file cannot be read, or it does not define `name`. */
static inline void *bench_real_sym(const char *soname, const char *name)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_NOLOAD);
    struct link_map *lm = NULL;
    if (!h || dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm || !lm->l_name[0])
        return NULL;
    int fd = open(lm->l_name, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(Elf64_Ehdr)) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    const unsigned char *f = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f == MAP_FAILED)
        return NULL;
    void *found = NULL;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
        eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) <= size) {
        const Elf64_Shdr *sh = (const Elf64_Shdr *)(f + eh->e_shoff);
        for (unsigned i = 0; i < eh->e_shnum && !found; i++) {
            if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh->e_shnum)
                continue;
            const Elf64_Shdr *str = &sh[sh[i].sh_link];
            if (sh[i].sh_offset + sh[i].sh_size > size || str->sh_offset + str->sh_size > size)
                break;
            const Elf64_Sym *sym = (const Elf64_Sym *)(f + sh[i].sh_offset);
            size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
            for (size_t k = 0; k < n; k++) {
                if (sym[k].st_shndx == SHN_UNDEF || sym[k].st_name >= str->sh_size ||
                    ELF64_ST_TYPE(sym[k].st_info) != STT_FUNC)
                    continue;
                const char *s = (const char *)(f + str->sh_offset + sym[k].st_name);
                if (strncmp(s, name, str->sh_size - sym[k].st_name) == 0) {
                    found = (void *)(lm->l_addr + sym[k].st_value);
                    break;
                }
            }
        }
    }
    munmap((void *)f, size);
    return found;
}

#endif
