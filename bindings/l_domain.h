/* bindings/l_domain.h: what the files of the xlua.domain module share: the handle's checks and
 * the info table (l_domain.c), and the lifecycle methods (l_domain_life.c). */
#ifndef XLUA_L_DOMAIN_H
#define XLUA_L_DOMAIN_H

#include <stdint.h>

#include "lhelpers.h"

#include "domain/dom.h"

/* The open backend of the handle at index 1 (raises on a closed one). */
struct dom_backend *lx_check_backend(lua_State *L);
uint32_t lx_check_domid(lua_State *L, int idx);
/* A string argument without NUL bytes (C would cut it there). */
const char *lx_check_cstring(lua_State *L, int idx);
void lx_push_dom_info(lua_State *L, const struct dom_info *i);
/* true, or nil, message, code when rc < 0. */
int lx_done(lua_State *L, int rc, const struct xerr *e);

/* C memory that must not leak when a Lua call raises (mpv's autofree): a userdata pushed by
 * lx_autofree_new whose __gc frees p (free, or dom_strv_free of n strings when strv);
 * lx_autofree_now frees it at once, once the results are Lua values. */
struct lx_autofree {
    void *p;
    size_t n;
    int strv;                  /* p is a char ** of n strings */
};
struct lx_autofree *lx_autofree_new(lua_State *L);
void lx_autofree_now(struct lx_autofree *a);

/* Adds request, sysrq, wait_shutdown, preserve, core_dump, run_dir to the methods table at
 * the top of the stack. */
void lx_domain_life_methods(lua_State *L);
/* Adds the runtime changes (mem_set, vcpu_set, device_add, ...: l_domain_runtime.c). */
void lx_domain_runtime_methods(lua_State *L);
/* Adds store_get_many and store_put_many (l_domain_store.c). */
void lx_domain_store_methods(lua_State *L);

/* xenstore and host facts: whether the handle at idx is open (l_domain.c); h:xs() and its
 * connection's methods (l_domain_xs.c); h:host()'s table, or nil, msg, code
 * (l_domain_host.c). */
int lx_backend_is_open(lua_State *L, int idx);
void lx_domain_xs_methods(lua_State *L);
int lx_push_host(lua_State *L, struct dom_backend *b);

#endif
