/* bindings/l_xlutil.c: placeholder until the module lands. */
#include "lhelpers.h"

int luaopen_xlua_xlutil(lua_State *L)
{
    lua_newtable(L);
    return 1;
}
