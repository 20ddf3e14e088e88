/* bindings/l_xlutil.c: xlua.xlutil, libxlutil's parsers for xl's device specs (disk, vif
 * rate, PCI) and libxl's CPUID parsers, returning libxl's JSON form so the Lua config policy
 * never re-parses them. */
#include "lhelpers.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxl.h>
#include <libxlutil.h>

#define SCRATCH_MT "xlua.xlutil.scratch"

/* Everything one parse owns, kept in a userdata so that a Lua error raised while the result
 * table is built (out of memory) still frees it: __gc and the explicit release share one
 * function, safe to call twice. */
struct scratch {
    XLU_Config *cfg;
    FILE *report;           /* libxlutil writes its complaints here, never to stderr */
    char *report_buf;
    size_t report_len;
    enum { SCRATCH_NONE, SCRATCH_DISK, SCRATCH_NIC, SCRATCH_PCI, SCRATCH_BUILD } kind;
    char *json;             /* libxl's JSON text of u.build */
    union {
        libxl_device_disk disk;
        libxl_device_nic nic;
        libxl_device_pci pci;
        libxl_domain_build_info build;
    } u;
};

static void scratch_release(struct scratch *s)
{
    switch (s->kind) {
    case SCRATCH_DISK: libxl_device_disk_dispose(&s->u.disk); break;
    case SCRATCH_NIC: libxl_device_nic_dispose(&s->u.nic); break;
    case SCRATCH_PCI: libxl_device_pci_dispose(&s->u.pci); break;
    case SCRATCH_BUILD: libxl_domain_build_info_dispose(&s->u.build); break;
    case SCRATCH_NONE: break;
    }
    s->kind = SCRATCH_NONE;
    free(s->json);
    s->json = NULL;
    if (s->cfg) {
        xlu_cfg_destroy(s->cfg);
        s->cfg = NULL;
    }
    if (s->report) {
        fclose(s->report);
        s->report = NULL;
    }
    free(s->report_buf);
    s->report_buf = NULL;
}

static int scratch_gc(lua_State *L)
{
    scratch_release(luaL_checkudata(L, 1, SCRATCH_MT));
    return 0;
}

/* Push a closed scratch, then open the report stream and the XLU_Config.
 * Returns NULL (scratch stays on the stack, closed) when either cannot be had. */
static struct scratch *scratch_open(lua_State *L, const char *source)
{
    struct scratch *s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, SCRATCH_MT);
    s->report = open_memstream(&s->report_buf, &s->report_len);
    if (!s->report)
        return NULL;
    s->cfg = xlu_cfg_init(s->report, source);
    if (!s->cfg)
        return NULL;
    return s;
}

/* The first line libxlutil reported, or fallback; the stream is flushed first. */
static const char *scratch_message(struct scratch *s, const char *fallback, char *buf, size_t n)
{
    if (s->report)
        fflush(s->report);
    if (!s->report_buf || !s->report_len) {
        snprintf(buf, n, "%s", fallback);
        return buf;
    }
    size_t len = strcspn(s->report_buf, "\n");
    snprintf(buf, n, "%.*s", (int)len, s->report_buf);
    return buf;
}

/* Table setters that follow libxl's JSON generator: a field is present only when it differs
 * from its IDL default, so the tables compare equal to libxl_*_to_json output. */
static void set_str(lua_State *L, const char *name, const char *v)
{
    if (v)
        lx_setstr(L, name, v);
}

static void set_nonzero(lua_State *L, const char *name, lua_Integer v)
{
    if (v)
        lx_setint(L, name, v);
}

static void set_enum(lua_State *L, const char *name, const char *text, int is_default)
{
    if (!is_default && text)
        lx_setstr(L, name, text);
}

static void set_defbool(lua_State *L, const char *name, libxl_defbool b)
{
    if (!libxl_defbool_is_default(b))
        lx_setstr(L, name, libxl_defbool_to_string(b));
}

static void push_disk(lua_State *L, const libxl_device_disk *d)
{
    lua_createtable(L, 0, 8);
    set_nonzero(L, "backend_domid", d->backend_domid);
    set_str(L, "backend_domname", d->backend_domname);
    set_str(L, "pdev_path", d->pdev_path);
    set_str(L, "vdev", d->vdev);
    set_enum(L, "backend", libxl_disk_backend_to_string(d->backend), d->backend == 0);
    set_enum(L, "format", libxl_disk_format_to_string(d->format), d->format == 0);
    set_str(L, "script", d->script);
    set_nonzero(L, "removable", d->removable);
    set_nonzero(L, "readwrite", d->readwrite);
    set_nonzero(L, "is_cdrom", d->is_cdrom);
    if (d->direct_io_safe)
        lx_setbool(L, "direct_io_safe", 1);
    set_defbool(L, "discard_enable", d->discard_enable);
    set_enum(L, "specification", libxl_disk_specification_to_string(d->specification),
             d->specification == 0);
    set_enum(L, "transport", libxl_disk_transport_to_string(d->transport), d->transport == 0);
    set_nonzero(L, "irq", d->irq);
    set_nonzero(L, "base", (lua_Integer)d->base);
    set_defbool(L, "colo_enable", d->colo_enable);
    set_defbool(L, "colo_restore_enable", d->colo_restore_enable);
    set_str(L, "colo_host", d->colo_host);
    set_nonzero(L, "colo_port", d->colo_port);
    set_str(L, "colo_export", d->colo_export);
    set_str(L, "active_disk", d->active_disk);
    set_str(L, "hidden_disk", d->hidden_disk);
    set_defbool(L, "trusted", d->trusted);
}

/* xlutil.disk(spec [, source]) -> table | nil, message, "BADDISK" */
static int l_disk(lua_State *L)
{
    const char *spec = luaL_checkstring(L, 1);
    const char *source = luaL_optstring(L, 2, "disk");
    char msg[512];
    struct scratch *s = scratch_open(L, source);
    if (!s)
        return lx_failf(L, "ENOMEM", "cannot set up the disk parser");
    libxl_device_disk_init(&s->u.disk);
    s->kind = SCRATCH_DISK;
    errno = 0;
    int e = xlu_disk_parse(s->cfg, 1, &spec, &s->u.disk);
    if (e) {
        scratch_message(s, e == EINVAL ? "invalid disk specification" : strerror(e),
                        msg, sizeof msg);
        scratch_release(s);
        return lx_failf(L, "BADDISK", "%s", msg);
    }
    push_disk(L, &s->u.disk);
    scratch_release(s);
    return 1;
}

/* xlutil.vif_rate(rate) -> bytes_per_interval, interval_usecs | nil, message, "BADRATE" */
static int l_vif_rate(lua_State *L)
{
    const char *rate = luaL_checkstring(L, 1);
    char msg[512];
    struct scratch *s = scratch_open(L, "vif");
    if (!s)
        return lx_failf(L, "ENOMEM", "cannot set up the rate parser");
    libxl_device_nic_init(&s->u.nic);
    s->kind = SCRATCH_NIC;
    /* libxlutil tests errno for ERANGE after strtoull without clearing it first. */
    errno = 0;
    int e = xlu_vif_parse_rate(s->cfg, rate, &s->u.nic);
    if (e) {
        scratch_message(s, "invalid rate", msg, sizeof msg);
        scratch_release(s);
        return lx_failf(L, "BADRATE", "%s", msg);
    }
    uint64_t bytes = s->u.nic.rate_bytes_per_interval;
    uint32_t usecs = s->u.nic.rate_interval_usecs;
    scratch_release(s);
    lua_pushinteger(L, (lua_Integer)bytes);
    lua_pushinteger(L, (lua_Integer)usecs);
    return 2;
}

static void push_pci(lua_State *L, const libxl_device_pci *p)
{
    lua_createtable(L, 0, 6);
    set_nonzero(L, "func", p->func);
    set_nonzero(L, "dev", p->dev);
    set_nonzero(L, "bus", p->bus);
    set_nonzero(L, "domain", p->domain);
    set_nonzero(L, "vdevfn", p->vdevfn);
    set_nonzero(L, "vfunc_mask", p->vfunc_mask);
    if (p->msitranslate)
        lx_setbool(L, "msitranslate", 1);
    if (p->power_mgmt)
        lx_setbool(L, "power_mgmt", 1);
    if (p->permissive)
        lx_setbool(L, "permissive", 1);
    if (p->seize)
        lx_setbool(L, "seize", 1);
    set_enum(L, "rdm_policy", libxl_rdm_reserve_policy_to_string(p->rdm_policy),
             p->rdm_policy == LIBXL_RDM_RESERVE_POLICY_INVALID);
    set_str(L, "name", p->name);
}

/* xlutil.pci(spec [, defaults]) -> table | nil, message, "BADPCI"
 * defaults = { msitranslate=, power_mgmt=, permissive=, seize= (booleans),
 * rdm_policy = "strict"|"relaxed" } (read raw; another type raises): what xl presets from its global pci_* keys before
 * parsing the spec. */
static int l_pci(lua_State *L)
{
    const char *spec = luaL_checkstring(L, 1);
    int has_defaults = !lua_isnoneornil(L, 2);
    libxl_rdm_reserve_policy policy = LIBXL_RDM_RESERVE_POLICY_INVALID;
    int msitranslate = 0, power_mgmt = 0, permissive = 0, seize = 0;
    if (has_defaults) {
        luaL_checktype(L, 2, LUA_TTABLE);
        msitranslate = lx_optfield_bool(L, 2, "msitranslate", 0);
        power_mgmt = lx_optfield_bool(L, 2, "power_mgmt", 0);
        permissive = lx_optfield_bool(L, 2, "permissive", 0);
        seize = lx_optfield_bool(L, 2, "seize", 0);
        const char *p = lx_optfield_str(L, 2, "rdm_policy", NULL, NULL);
        if (p && libxl_rdm_reserve_policy_from_string(p, &policy))
            return luaL_argerror(L, 2, "unknown rdm_policy");
        lua_pop(L, 1);
    }
    char msg[512];
    struct scratch *s = scratch_open(L, "pci");
    if (!s)
        return lx_failf(L, "ENOMEM", "cannot set up the PCI parser");
    libxl_device_pci_init(&s->u.pci);
    s->kind = SCRATCH_PCI;
    s->u.pci.msitranslate = msitranslate;
    s->u.pci.power_mgmt = power_mgmt;
    s->u.pci.permissive = permissive;
    s->u.pci.seize = seize;
    s->u.pci.rdm_policy = policy;
    int e = xlu_pci_parse_spec_string(s->cfg, &s->u.pci, spec);
    if (e) {
        scratch_message(s, "invalid PCI_SPEC_STRING", msg, sizeof msg);
        scratch_release(s);
        return lx_failf(L, "BADPCI", "%s `%s'", msg, spec);
    }
    push_pci(L, &s->u.pci);
    scratch_release(s);
    return 1;
}

/* xlutil.cpuid(syntax, items) -> json, errors | nil, message, code
 * syntax "flags": each item is one "name=value" of `cpuid = "host,..."`
 * (libxl_cpuid_parse_config); "xend": each item is one "leaf[,subleaf]:reg=bits,..." of the
 * list form (libxl_cpuid_parse_config_xend). Items libxl refuses are skipped, as xl skips them,
 * and listed in errors as { item = s, code = n } (libxl's return value). json is libxl's own
 * JSON text of a build info holding only that policy: its "cpuid" member is the policy. */
static int l_cpuid(lua_State *L)
{
    static const char *const syntaxes[] = {"flags", "xend", NULL};
    int xend = luaL_checkoption(L, 1, NULL, syntaxes);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_geti(L, 2, i) != LUA_TSTRING)
            return luaL_argerror(L, 2, "a list of strings expected");
        lua_pop(L, 1);
    }
    struct scratch *s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, SCRATCH_MT);
    libxl_domain_build_info_init(&s->u.build);
    s->kind = SCRATCH_BUILD;
    lua_newtable(L); /* errors */
    int nerr = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 2, i);
        const char *item = lua_tostring(L, -1);
        int e = xend ? libxl_cpuid_parse_config_xend(&s->u.build.cpuid, item)
                     : libxl_cpuid_parse_config(&s->u.build.cpuid, item);
        if (e) {
            lua_createtable(L, 0, 2);
            lua_pushvalue(L, -2);
            lua_setfield(L, -2, "item");
            lx_setint(L, "code", e);
            lua_seti(L, -3, ++nerr);
        }
        lua_pop(L, 1);
    }
    s->json = libxl_domain_build_info_to_json(NULL, &s->u.build);
    if (!s->json) {
        scratch_release(s);
        return lx_failf(L, "ENOMEM", "cannot render the CPUID policy");
    }
    lua_pushstring(L, s->json);
    scratch_release(s);
    lua_insert(L, -2);
    return 2;
}

static const luaL_Reg xlutil_funcs[] = {
    {"disk", l_disk},
    {"vif_rate", l_vif_rate},
    {"pci", l_pci},
    {"cpuid", l_cpuid},
    {NULL, NULL},
};

/* Its own module (lib/xlua/xlua_xlutil.so, loaded by xlua_libdir.c): the one symbol exported. */
__attribute__((visibility("default"))) int luaopen_xlua_xlutil(lua_State *L);

int luaopen_xlua_xlutil(lua_State *L)
{
    if (luaL_newmetatable(L, SCRATCH_MT)) {
        lua_pushcfunction(L, scratch_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, scratch_gc);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    luaL_newlib(L, xlutil_funcs);
    return 1;
}
