/* bindings/l_cfg.c: placeholder until the module lands. */
#include "lhelpers.h"

int luaopen_xlua_cfg(lua_State *L)
{
    lua_newtable(L);
    return 1;
}
