/* bindings/l_savefile.c: xlua.savefile, the savefile codec (core/sf_*) as Lua values:
 * a reader userdata that walks a file front to back, and a writer userdata.
 *
 * savefile.FLAG_JSON (1), FLAG_STREAMV2 (2), FLAG_ZSTD (0x80000000)
 * savefile.EXT_SOURCE (1), EXT_SOURCE_FORMAT (2), EXT_META (3)
 * savefile.MAGIC                the 32 magic bytes of an xl savefile
 * savefile.record_names         {libxl = {[0] = "END", ...}, libxc = {[0] = "END", [1] = "PAGE_DATA", ...}}
 *
 * savefile.open(path)           path "-" = stdin (left open). -> reader | nil, msg, code
 * savefile.open(fd [, name])     a reader over an fd it leaves open (a migration stream)
 *   Failures are nil, msg, code; code is one of ENOENT EACCES EIO SHORTHEADER BADMAGIC
 *   BYTEORDER BADFLAGS BADOPTLEN BADCONFIGLEN NONUL BADEXT LEGACYSTREAM BADSTREAM TRUNCATED
 *   RECLEN BADRECTYPE BADPAGE BADZSTD BADTRAILER. Once a step fails, every later step that
 *   needs more of the file fails with the same error; what was read before stays readable.
 * reader:header()      -> {byteorder, mandatory_flags, optional_flags, optional_data_len,
 *                          flags = {"JSON", "STREAMv2", "ZSTD"} (those set)}
 * reader:config()      -> {present = bool, format = "json"|"xl", length = stored bytes
 *                          (JSON: with its NUL), text = the config without the NUL}
 * reader:extensions()  -> {version = 1|nil, {tag = n, name = "SOURCE"|"SOURCE_FORMAT"|"META"|nil,
 *                          data = s}, ...}   (empty list when the file has no xlua block)
 * reader:stream()      -> {libxl_version, libxl_options, endianness = "little"|"big", legacy,
 *                          and once the libxc headers are read: libxc_version, domain_type,
 *                          domain_type_name ("x86 PV"), page_shift, page_size, xen_version = "4.17"}
 * reader:next_record([want_body]) -> {layer = "libxl"|"libxc", type, name ("OPTIONAL" for bit-31
 *                          types), offset, length, pages, data_pages (PAGE_DATA), body (if asked)}
 *                          | false after the libxl END record | nil, msg, code
 *   offset: file byte of the record header; in a zstd file, the byte in the decompressed view
 *   (file bytes before the stream + decompressed stream bytes).
 * reader:records()     -> iterator for `for rec in reader:records() do`; stops at the end or at
 *                          an error; reader:error() then returns msg, code (or nil).
 * reader:summary()     -> walks the rest: {records = {libxl = {END = 1, ...}, libxc = {PAGE_DATA = n,
 *                          OPTIONAL = n, ...}} (types seen only), record_count, pages (pfn entries),
 *                          data_pages, stream_bytes (decompressed), raw_stream_bytes, compressed}
 * reader:trailer()     -> walks the rest: {found, length, hash (32 hex digits), computed,
 *                          computed_length, matches} (length/hash only when found)
 * reader:verify()      -> true | nil, msg, code  (a file without trailer verifies: xl writes none)
 * reader:expect_trailer("optional"|"none"|"required")  what follows END (sf_reader.h): a
 *                          migration stream is read up to its end and never past it
 * reader:offset()      -> logical bytes consumed;  reader:raw_offset() -> file bytes consumed
 * reader:error()       -> msg, code of the sticky error, or nil
 * reader:close()       (also __close and __gc)
 *
 * savefile.writer(file_handle | fd) -> writer | nil, msg, code: a Lua file handle is flushed
 *   first; the writer writes to its own duplicate of the fd (closed with the writer), so closing
 *   the handle or the fd meanwhile never sends its bytes to whatever reuses the number.
 * savefile.create(path [, mode = 0600]) -> writer | nil, msg, code: writes a temporary file in
 *   the same directory; finish() fsyncs it and renames it over path; a writer closed or
 *   garbage-collected before finish() removes it, so path holds the old file or the new one,
 *   never a torn one. Temporary files left by a killed save to the same path are removed.
 * w:header{config = s, json = true, streamv2 = true, zstd = false, zstd_level = n,
 *          extensions = {{tag = n, data = s}, ...}}   json adds the NUL and the JSON flag;
 *   zstd_level 0 is xlua's default (-1), else from zstd's minimum (negative) to its maximum (22)
 * w:write(bytes)        raw stream bytes (through zstd when the header said so)
 * w:libxl_header()      "LibxlFmt", version 2, this host's endianness
 * w:libxc_headers{domain_type = 1, page_shift = 12, xen_major = 4, xen_minor = 17, version = 3}
 *                       version 2 or 3, page_shift 12 to 21 (what the reader accepts), u32s
 * Options tables are read with raw access; a field of the wrong type or range raises.
 * w:record(type, body)  {u32 type, u32 length, body, zero padding to 8}, either layer
 * w:finish([trailer = true]) -> total bytes | nil, msg, code   (ends the zstd frame; for
 *                       savefile.create, commits the file)
 * w:flush()             hand what was written to the fd (the frame goes on)
 * w:bytes()             bytes written so far
 * Each writer method but bytes returns true (finish: the total) or nil, msg, code.
 *
 * savefile.rewrite(...): see l_savefile_rewrite.c */
#include "lhelpers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lualib.h>
#include <xxhash.h>
#include <zstd.h>

#include "savefile/atomic_file.h"
#include "l_savefile.h"
#include "l_savefile_int.h"
#include "savefile/sf_reader.h"
#include "savefile/sf_writer.h"

#define READER "xlua.savefile.reader"
#define WRITER "xlua.savefile.writer"

struct lreader {
    struct sf_reader *r;     /* NULL: closed */
    int busy;                /* in use by another binding's call (lx_savefile_busy) */
};

/* ---- reader ---- */

static struct sf_reader *check_reader(lua_State *L)
{
    struct lreader *lr = luaL_checkudata(L, 1, READER);
    if (!lr->r)
        luaL_error(L, "attempt to use a closed savefile reader");
    return lr->r;
}

static int l_open(lua_State *L)
{
    const char *path = NULL, *name;
    int fd = -1;
    if (lua_type(L, 1) == LUA_TNUMBER) {
        lua_Integer n = luaL_checkinteger(L, 1);
        luaL_argcheck(L, n >= 0 && n <= 0x7fffffff, 1, "not a file descriptor");
        fd = (int)n;
        name = luaL_optstring(L, 2, "<stream>");
    } else {
        path = luaL_checkstring(L, 1);
        name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    }
    struct lreader *lr = lua_newuserdatauv(L, sizeof *lr, 0);
    lr->r = NULL;
    lr->busy = 0;
    luaL_setmetatable(L, READER);
    int borrowed = !path || strcmp(path, "-") == 0;
    if (path)
        fd = borrowed ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    struct xerr e = { 0 };
    if (fd < 0) {
        xerr_errno(&e, errno, "%s: cannot open", path);
        return lx_fail(L, &e);
    }
    lr->r = sf_reader_new(fd, name, !borrowed, &e);
    if (!lr->r) {
        if (!borrowed)
            close(fd);
        return lx_fail(L, &e);
    }
    return 1;
}

static int l_reader_close(lua_State *L)
{
    struct lreader *lr = luaL_checkudata(L, 1, READER);
    if (lr->busy)
        return luaL_error(L, "the savefile reader is in use by a restore");
    sf_reader_free(lr->r);
    lr->r = NULL;
    return 0;
}

static int l_reader_tostring(lua_State *L)
{
    struct lreader *lr = luaL_checkudata(L, 1, READER);
    if (lr->r)
        lua_pushfstring(L, "savefile reader (%p)", (void *)lr->r);
    else
        lua_pushliteral(L, "savefile reader (closed)");
    return 1;
}

static int l_header(lua_State *L)
{
    struct sf_reader *r = check_reader(L);
    const struct sf_header *h;
    struct xerr e = { 0 };
    if (sf_reader_header(r, &h, &e) < 0)
        return lx_fail(L, &e);
    struct sf_header copy = *h;
    lua_createtable(L, 0, 5);
    lx_setint(L, "byteorder", copy.byteorder);
    lx_setint(L, "mandatory_flags", copy.mandatory_flags);
    lx_setint(L, "optional_flags", copy.optional_flags);
    lx_setint(L, "optional_data_len", copy.optional_data_len);
    lua_newtable(L);
    int n = 0;
    if (copy.mandatory_flags & SF_FLAG_JSON) {
        lua_pushliteral(L, "JSON");
        lua_rawseti(L, -2, ++n);
    }
    if (copy.mandatory_flags & SF_FLAG_STREAMV2) {
        lua_pushliteral(L, "STREAMv2");
        lua_rawseti(L, -2, ++n);
    }
    if (copy.mandatory_flags & SF_FLAG_ZSTD) {
        lua_pushliteral(L, "ZSTD");
        lua_rawseti(L, -2, ++n);
    }
    lua_setfield(L, -2, "flags");
    return 1;
}

static int l_config(lua_State *L)
{
    struct sf_reader *r = check_reader(L);
    const struct sf_optdata *o;
    struct xerr e = { 0 };
    if (sf_reader_optdata(r, &o, &e) < 0)
        return lx_fail(L, &e);
    /* The reader owns these bytes until it is closed, and only this call can close it. */
    size_t text_len = o->config_len;
    if (o->config_json && text_len > 0)
        text_len--;
    lua_createtable(L, 0, 4);
    lx_setbool(L, "present", o->has_config);
    lx_setstr(L, "format", o->config_json ? "json" : "xl");
    lx_setint(L, "length", o->config_len);
    lua_pushlstring(L, o->has_config ? (const char *)o->config : "", text_len);
    lua_setfield(L, -2, "text");
    return 1;
}

static int l_extensions(lua_State *L)
{
    struct sf_reader *r = check_reader(L);
    const struct sf_optdata *o;
    struct xerr e = { 0 };
    if (sf_reader_optdata(r, &o, &e) < 0)
        return lx_fail(L, &e);
    lua_createtable(L, (int)o->ext_count, 1);
    if (o->has_ext)
        lx_setint(L, "version", o->ext_version);
    for (size_t i = 0; i < o->ext_count; i++) {
        const struct sf_ext_entry *x = &o->ext[i];
        lua_createtable(L, 0, 3);
        lx_setint(L, "tag", x->tag);
        const char *name = sf_ext_tag_name(x->tag);
        if (name)
            lx_setstr(L, "name", name);
        lua_pushlstring(L, (const char *)x->data, x->length);
        lua_setfield(L, -2, "data");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int l_stream(lua_State *L)
{
    struct sf_reader *r = check_reader(L);
    const struct sf_stream_info *si;
    struct xerr e = { 0 };
    if (sf_reader_stream(r, &si, &e) < 0)
        return lx_fail(L, &e);
    struct sf_stream_info i = *si;
    lua_createtable(L, 0, 11);
    lx_setint(L, "libxl_version", i.libxl_version);
    lx_setint(L, "libxl_options", i.libxl_options);
    lx_setstr(L, "endianness", i.libxl_big_endian ? "big" : "little");
    lx_setbool(L, "legacy", i.libxl_options & SF_LIBXL_OPT_LEGACY);
    if (i.have_libxc) {
        lx_setint(L, "libxc_version", i.libxc_version);
        lx_setint(L, "libxc_options", i.libxc_options);
        lx_setint(L, "domain_type", i.domain_type);
        lx_setstr(L, "domain_type_name", sf_domain_type_name(i.domain_type));
        lx_setint(L, "page_shift", i.page_shift);
        lx_setint(L, "page_size", (lua_Integer)1 << i.page_shift);
        lua_pushfstring(L, "%d.%d", (int)i.xen_major, (int)i.xen_minor);
        lua_setfield(L, -2, "xen_version");
    }
    return 1;
}

/* Push the record as a table; the body is copied into a Lua string. */
static void push_record(lua_State *L, const struct sf_record *rec, int want_body)
{
    lua_createtable(L, 0, 8);
    lx_setstr(L, "layer", sf_layer_name(rec->layer));
    lx_setint(L, "type", rec->type);
    lx_setstr(L, "name", rec->name);
    lx_setint(L, "offset", (lua_Integer)rec->offset);
    lx_setint(L, "length", rec->length);
    if (rec->layer == SF_LAYER_LIBXC && rec->type == SF_LIBXC_PAGE_DATA) {
        lx_setint(L, "pages", rec->pages);
        lx_setint(L, "data_pages", rec->data_pages);
    }
    if (want_body) {
        lua_pushlstring(L, (const char *)rec->body, rec->length);
        lua_setfield(L, -2, "body");
    }
}

static int l_next_record(lua_State *L)
{
    struct sf_reader *r = check_reader(L);
    int want_body = lua_toboolean(L, 2);
    struct sf_record rec;
    struct xerr e = { 0 };
    int rc = sf_reader_next(r, &rec, want_body, &e);
    if (rc < 0)
        return lx_fail(L, &e);
    if (rc == 0) {
        lua_pushboolean(L, 0);
        return 1;
    }
    push_record(L, &rec, want_body);
    return 1;
}

static int records_iter(lua_State *L)
{
    struct lreader *lr = luaL_checkudata(L, lua_upvalueindex(1), READER);
    if (!lr->r)
        return luaL_error(L, "attempt to use a closed savefile reader");
    struct sf_record rec;
    if (sf_reader_next(lr->r, &rec, 0, NULL) <= 0)
        return 0;
    push_record(L, &rec, 0);
    return 1;
}

static int l_records(lua_State *L)
{
    check_reader(L);
    lua_settop(L, 1);
    lua_pushcclosure(L, records_iter, 1);
    return 1;
}

static int l_error(lua_State *L)
{
    const struct xerr *e = sf_reader_error(check_reader(L));
    if (!e)
        return 0;
    lua_pushstring(L, e->message);
    lua_pushstring(L, e->code);
    return 2;
}

static void push_counts(lua_State *L, enum sf_layer layer, const uint64_t *counts,
                        uint64_t optional)
{
    lua_newtable(L);
    for (unsigned t = 0; t < sf_record_ntypes(layer); t++) {
        if (counts[t]) {
            lua_pushinteger(L, (lua_Integer)counts[t]);
            lua_setfield(L, -2, sf_record_name(layer, t));
        }
    }
    if (optional) {
        lua_pushinteger(L, (lua_Integer)optional);
        lua_setfield(L, -2, "OPTIONAL");
    }
    lua_setfield(L, -2, sf_layer_name(layer));
}

static int l_summary(lua_State *L)
{
    struct sf_reader *r = check_reader(L);
    struct sf_summary s;
    struct xerr e = { 0 };
    if (sf_reader_summary(r, &s, &e) < 0)
        return lx_fail(L, &e);
    lua_createtable(L, 0, 8);
    lua_createtable(L, 0, 2);
    push_counts(L, SF_LAYER_LIBXL, s.libxl_counts, s.libxl_optional);
    push_counts(L, SF_LAYER_LIBXC, s.libxc_counts, s.libxc_optional);
    lua_setfield(L, -2, "records");
    lx_setint(L, "record_count", (lua_Integer)s.record_count);
    lx_setint(L, "pages", (lua_Integer)s.pages);
    lx_setint(L, "data_pages", (lua_Integer)s.data_pages);
    lx_setint(L, "stream_bytes", (lua_Integer)s.stream_bytes);
    lx_setint(L, "raw_stream_bytes", (lua_Integer)s.raw_stream_bytes);
    lx_setbool(L, "compressed", s.compressed);
    lx_setbool(L, "complete", s.complete);
    return 1;
}

static void push_hex(lua_State *L, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char out[2 * SF_HASH_LEN];
    for (size_t i = 0; i < n && i < SF_HASH_LEN; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    lua_pushlstring(L, out, 2 * n);
}

static int l_trailer(lua_State *L)
{
    struct sf_reader *r = check_reader(L);
    struct sf_trailer t;
    struct xerr e = { 0 };
    if (sf_reader_trailer(r, &t, &e) < 0)
        return lx_fail(L, &e);
    lua_createtable(L, 0, 6);
    lx_setbool(L, "found", t.found);
    push_hex(L, t.computed, SF_HASH_LEN);
    lua_setfield(L, -2, "computed");
    lx_setint(L, "computed_length", (lua_Integer)t.computed_length);
    if (t.found) {
        lx_setint(L, "length", (lua_Integer)t.length);
        push_hex(L, t.hash, SF_HASH_LEN);
        lua_setfield(L, -2, "hash");
        lx_setbool(L, "matches", t.matches);
    }
    return 1;
}

static int l_verify(lua_State *L)
{
    struct sf_reader *r = check_reader(L);
    struct xerr e = { 0 };
    if (sf_reader_verify(r, &e) < 0)
        return lx_fail(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_expect_trailer(lua_State *L)
{
    static const char *const modes[] = { "optional", "none", "required", NULL };
    static const enum sf_trailer_mode values[] = {
        SF_TRAILER_OPTIONAL, SF_TRAILER_NONE, SF_TRAILER_REQUIRED,
    };
    sf_reader_set_trailer_mode(check_reader(L), values[luaL_checkoption(L, 2, NULL, modes)]);
    return 0;
}

static int l_offset(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)sf_reader_offset(check_reader(L)));
    return 1;
}

static int l_raw_offset(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)sf_reader_raw_offset(check_reader(L)));
    return 1;
}

static const luaL_Reg reader_methods[] = {
    {"header", l_header},
    {"config", l_config},
    {"extensions", l_extensions},
    {"stream", l_stream},
    {"next_record", l_next_record},
    {"records", l_records},
    {"error", l_error},
    {"summary", l_summary},
    {"trailer", l_trailer},
    {"verify", l_verify},
    {"expect_trailer", l_expect_trailer},
    {"offset", l_offset},
    {"raw_offset", l_raw_offset},
    {"close", l_reader_close},
    {NULL, NULL},
};

/* ---- writer ---- */

static struct sf_writer *check_writer(lua_State *L)
{
    struct lwriter *lw = luaL_checkudata(L, 1, WRITER);
    if (!lw->w)
        luaL_error(L, "attempt to use a closed savefile writer");
    return lw->w;
}

static int l_writer(lua_State *L)
{
    int fd;
    luaL_Stream *fh = luaL_testudata(L, 1, LUA_FILEHANDLE);
    if (fh) {
        if (!fh->closef)
            return luaL_argerror(L, 1, "file is closed");
        if (fflush(fh->f) != 0) {
            struct xerr e = { 0 };
            xerr_errno(&e, errno, "cannot flush the file handle");
            return lx_fail(L, &e);
        }
        fd = fileno(fh->f);
    } else {
        lua_Integer n = luaL_checkinteger(L, 1);
        luaL_argcheck(L, n >= 0 && n <= 0x7fffffff, 1, "not a file descriptor");
        fd = (int)n;
    }
    struct lwriter *lw = lua_newuserdatauv(L, sizeof *lw, 0);
    lw->w = NULL;
    lw->fd = -1;
    lw->atomic = 0;
    lw->busy = 0;
    lw->finished = 0;
    luaL_setmetatable(L, WRITER);
    struct xerr e = { 0 };
    /* Our own copy: the caller may close its fd (or Lua file) while the writer lives. */
    lw->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (lw->fd < 0) {
        xerr_errno(&e, errno, "savefile (fd %d): cannot duplicate the file descriptor", fd);
        return lx_fail(L, &e);
    }
    char name[64];
    snprintf(name, sizeof name, "savefile (fd %d)", fd);
    lw->w = sf_writer_new(lw->fd, name, &e);
    if (!lw->w)
        return lx_fail(L, &e);
    return 1;
}

int l_create(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_Integer mode = luaL_optinteger(L, 2, 0600);
    luaL_argcheck(L, mode >= 0 && mode <= 07777, 2, "not a file mode");
    struct lwriter *lw = lua_newuserdatauv(L, sizeof *lw, 0);
    lw->w = NULL;
    lw->fd = -1;
    lw->atomic = 0;
    lw->busy = 0;
    lw->finished = 0;
    luaL_setmetatable(L, WRITER);
    struct xerr e = { 0 };
    if (atomic_file_create(&lw->af, path, (mode_t)mode, &e) < 0)
        return lx_fail(L, &e);
    lw->atomic = 1;
    lw->w = sf_writer_new(lw->af.fd, path, &e);
    if (!lw->w) {
        atomic_file_abort(&lw->af);
        lw->atomic = 0;
        return lx_fail(L, &e);
    }
    return 1;
}

/* Without a successful finish(), an atomic writer's temporary file is removed. */
int l_writer_close(lua_State *L)
{
    struct lwriter *lw = luaL_checkudata(L, 1, WRITER);
    if (lw->busy)
        return luaL_error(L, "the savefile writer is in use by a save");
    sf_writer_free(lw->w);
    lw->w = NULL;
    if (lw->fd >= 0) {
        close(lw->fd);
        lw->fd = -1;
    }
    if (lw->atomic) {
        atomic_file_abort(&lw->af);
        lw->atomic = 0;
    }
    return 0;
}

static int writer_result(lua_State *L, int rc, const struct xerr *e)
{
    if (rc < 0)
        return lx_fail(L, e);
    lua_pushboolean(L, 1);
    return 1;
}

int l_w_header(lua_State *L)
{
    struct sf_writer *w = check_writer(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    struct sf_write_options o = { 0 };
    o.json = lx_optfield_bool(L, 2, "json", 1);
    o.streamv2 = lx_optfield_bool(L, 2, "streamv2", 1);
    o.zstd = lx_optfield_bool(L, 2, "zstd", 0);
    lua_Integer level = lx_optfield_int(L, 2, "zstd_level", 0, ZSTD_minCLevel(),
                                        ZSTD_maxCLevel());
    o.zstd_level = (int)level;
    o.config = lx_optfield_str(L, 2, "config", NULL, &o.config_len);   /* index 3 */
    lua_pushliteral(L, "extensions");                                   /* index 4 */
    int ty = lua_rawget(L, 2);
    if (ty != LUA_TNIL) {
        if (ty != LUA_TTABLE)
            return luaL_error(L, "bad field 'extensions' (table expected, got %s)",
                              luaL_typename(L, 4));
        size_t n = lua_rawlen(L, 4);
        if (n > SF_OPTDATA_MAX / 8)
            return luaL_error(L, "too many extensions");
        /* The entries live in a userdata (index 5), so a Lua error cannot leak them; their
         * data strings are anchored in a fresh table (index 6) until the header is written,
         * whatever happens to the caller's tables meanwhile. */
        struct sf_ext_entry *ext = lua_newuserdatauv(L, (n ? n : 1) * sizeof *ext, 0);
        lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            if (lua_rawgeti(L, 4, (lua_Integer)i + 1) != LUA_TTABLE)
                return luaL_error(L, "extensions[%d] must be a table", (int)i + 1);
            lua_pushliteral(L, "tag");
            int tty = lua_rawget(L, -2);
            int ok = 0;
            lua_Integer tag = tty == LUA_TNUMBER ? lua_tointegerx(L, -1, &ok) : -1;
            if (!ok || tag < 0 || tag > 0xffffffffLL)
                return luaL_error(L, "extensions[%d].tag must be a u32", (int)i + 1);
            lua_pop(L, 1);
            ext[i].tag = (uint32_t)tag;
            lua_pushliteral(L, "data");
            if (lua_rawget(L, -2) != LUA_TSTRING)
                return luaL_error(L, "extensions[%d].data must be a string", (int)i + 1);
            size_t len;
            ext[i].data = (const unsigned char *)lua_tolstring(L, -1, &len);
            if (len > SF_OPTDATA_MAX)
                return luaL_error(L, "extensions[%d].data is too long", (int)i + 1);
            ext[i].length = (uint32_t)len;
            lua_rawseti(L, 6, (lua_Integer)i + 1);      /* anchors the data string */
            lua_pop(L, 1);
        }
        o.ext = ext;
        o.ext_count = n;
    }
    struct xerr e = { 0 };
    return writer_result(L, sf_writer_header(w, &o, &e), &e);
}

static int l_w_write(lua_State *L)
{
    struct sf_writer *w = check_writer(L);
    size_t n;
    const char *p = luaL_checklstring(L, 2, &n);
    struct xerr e = { 0 };
    return writer_result(L, sf_writer_write(w, p, n, &e), &e);
}

static int l_w_libxl_header(lua_State *L)
{
    struct sf_writer *w = check_writer(L);
    struct xerr e = { 0 };
    return writer_result(L, sf_writer_libxl_header(w, &e), &e);
}

static int l_w_libxc_headers(lua_State *L)
{
    struct sf_writer *w = check_writer(L);
    if (lua_isnoneornil(L, 2))
        lua_newtable(L);
    else
        luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    /* The ranges the reader accepts (sf_stream.c read_libxc_headers), and u32 fields. */
    lua_Integer version = lx_optfield_int(L, 2, "version", 3, 2, 3);
    lua_Integer type = lx_optfield_int(L, 2, "domain_type", SF_DOMAIN_X86_PV, 0, UINT32_MAX);
    lua_Integer shift = lx_optfield_int(L, 2, "page_shift", 12, 12, 21);
    lua_Integer major = lx_optfield_int(L, 2, "xen_major", 4, 0, UINT32_MAX);
    lua_Integer minor = lx_optfield_int(L, 2, "xen_minor", 17, 0, UINT32_MAX);
    struct xerr e = { 0 };
    return writer_result(L, sf_writer_libxc_headers(w, (uint32_t)version, (uint32_t)type,
                                                    (uint16_t)shift, (uint32_t)major,
                                                    (uint32_t)minor, &e), &e);
}

static int l_w_record(lua_State *L)
{
    struct sf_writer *w = check_writer(L);
    lua_Integer type = luaL_checkinteger(L, 2);
    luaL_argcheck(L, type >= 0 && type <= 0xffffffffLL, 2, "record type must be a u32");
    size_t n = 0;
    const char *body = luaL_optlstring(L, 3, "", &n);
    struct xerr e = { 0 };
    return writer_result(L, sf_writer_record(w, (uint32_t)type, body, n, &e), &e);
}

static int l_w_flush(lua_State *L)
{
    struct xerr e = { 0 };
    return writer_result(L, sf_writer_flush(check_writer(L), &e), &e);
}

static int l_w_finish(lua_State *L)
{
    struct sf_writer *w = check_writer(L);
    int trailer = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
    uint64_t total = 0;
    struct xerr e = { 0 };
    if (sf_writer_finish(w, trailer, &total, &e) < 0)
        return lx_fail(L, &e);
    struct lwriter *lw = lua_touserdata(L, 1);
    if (lw->atomic) {
        lw->atomic = 0;
        if (atomic_file_commit(&lw->af, &e) < 0)
            return lx_fail(L, &e);
    }
    lw->finished = 1;
    lua_pushinteger(L, (lua_Integer)total);
    return 1;
}

/* w:finished() -> whether finish() succeeded; also once closed. Set in the call that put the
 * file in place, so an error raised right after it (a signal) still knows. */
static int l_w_finished(lua_State *L)
{
    struct lwriter *lw = luaL_checkudata(L, 1, WRITER);
    lua_pushboolean(L, lw->finished);
    return 1;
}

static int l_w_bytes(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)sf_writer_bytes(check_writer(L)));
    return 1;
}

static int l_writer_tostring(lua_State *L)
{
    struct lwriter *lw = luaL_checkudata(L, 1, WRITER);
    if (lw->w)
        lua_pushfstring(L, "savefile writer (%p)", (void *)lw->w);
    else
        lua_pushliteral(L, "savefile writer (closed)");
    return 1;
}

static const luaL_Reg writer_methods[] = {
    {"header", l_w_header},
    {"write", l_w_write},
    {"libxl_header", l_w_libxl_header},
    {"libxc_headers", l_w_libxc_headers},
    {"record", l_w_record},
    {"flush", l_w_flush},
    {"finish", l_w_finish},
    {"finished", l_w_finished},
    {"bytes", l_w_bytes},
    {"close", l_writer_close},
    {NULL, NULL},
};

/* ---- module ---- */

static void new_class(lua_State *L, const char *name, const luaL_Reg *methods,
                      lua_CFunction close, lua_CFunction tostring)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
}

static void push_names(lua_State *L, enum sf_layer layer)
{
    lua_createtable(L, (int)sf_record_ntypes(layer), 1);
    for (unsigned t = 0; t < sf_record_ntypes(layer); t++) {
        lua_pushstring(L, sf_record_name(layer, t));
        lua_rawseti(L, -2, t);
    }
    lua_setfield(L, -2, sf_layer_name(layer));
}

static const luaL_Reg functions[] = {
    {"open", l_open},
    {"writer", l_writer},
    {"create", l_create},
    {"rewrite", lx_savefile_rewrite},
    {NULL, NULL},
};

struct sf_reader *lx_check_sf_reader(lua_State *L, int idx)
{
    struct lreader *lr = luaL_checkudata(L, idx, READER);
    if (!lr->r)
        luaL_argerror(L, idx, "savefile reader is closed");
    return lr->r;
}

struct sf_reader *lx_test_sf_reader(lua_State *L, int idx)
{
    struct lreader *lr = luaL_testudata(L, idx, READER);
    return lr ? lr->r : NULL;
}

void lx_savefile_busy(lua_State *L, int idx, int delta)
{
    struct lreader *lr = luaL_testudata(L, idx, READER);
    if (lr) {
        lr->busy += delta;
        return;
    }
    struct lwriter *lw = luaL_checkudata(L, idx, WRITER);
    lw->busy += delta;
}

struct sf_writer *lx_check_sf_writer(lua_State *L, int idx)
{
    struct lwriter *lw = luaL_checkudata(L, idx, WRITER);
    if (!lw->w)
        luaL_argerror(L, idx, "savefile writer is closed");
    return lw->w;
}

int luaopen_xlua_savefile(lua_State *L)
{
    new_class(L, READER, reader_methods, l_reader_close, l_reader_tostring);
    new_class(L, WRITER, writer_methods, l_writer_close, l_writer_tostring);
    luaL_newlib(L, functions);
    lx_setint(L, "FLAG_JSON", SF_FLAG_JSON);
    lx_setint(L, "FLAG_STREAMV2", SF_FLAG_STREAMV2);
    lx_setint(L, "FLAG_ZSTD", SF_FLAG_ZSTD);
    lx_setint(L, "EXT_SOURCE", SF_EXT_SOURCE);
    lx_setint(L, "EXT_SOURCE_FORMAT", SF_EXT_SOURCE_FORMAT);
    lx_setint(L, "EXT_META", SF_EXT_META);
    lua_pushlstring(L, SF_MAGIC, SF_MAGIC_LEN);
    lua_setfield(L, -2, "MAGIC");
    lua_createtable(L, 0, 2);
    push_names(L, SF_LAYER_LIBXL);
    push_names(L, SF_LAYER_LIBXC);
    lua_setfield(L, -2, "record_names");
    return 1;
}
