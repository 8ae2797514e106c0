/*
 * piw_monitor._fastframe: the commonest status frames, a slave's STATS,
 * BUILD, SEND, DONE and SLEEP messages and the master's own STATS,
 * recognised byte for byte and turned into their events without cbor2.
 *
 * An optional accelerator of protocol.decode_status. It only ever accepts:
 * for a frame laid out exactly as a piwheels master lays out one of those
 * messages, whose values pass the checks protocol.py makes (with the limits
 * protocol.py gives to configure()), it returns the event protocol.py would
 * have made. For anything else (another message; another encoding of the
 * same values; a truncated frame; trailing bytes; an impossible date; text
 * that is not UTF-8; a value out of range) it returns None, and protocol.py
 * decodes the frame with cbor2 and its general checks, which accept it or
 * say what is wrong with it. The test suite compares the two on recorded,
 * generated, edge and mutated frames.
 *
 * The layouts recognised (RFC 8949 encodings):
 *
 *   82                          array(2)
 *     65 "SLAVE"                text(5)
 *     84                        array(4)
 *       <uint>                  slave id
 *       <time>                  timestamp
 *       then one of:
 *       65 "STATS" 89 <time> <uint> x 6 <float64> x 2
 *       65 "BUILD" 82 <text> <text>
 *       64 "SEND" <text>
 *       64 "DONE" d9 07d2 f6    tag 2002 around null: no data
 *       65 "SLEEP" f4 | f5      false | true
 *
 *   82                          array(2)
 *     65 "STATS"                text(5)
 *     93                        array(19)
 *       <time> <uint>           timestamp, packages built
 *       <map> <duration>        builds in the last hour by ABI, build time
 *       <uint> <map>            build size, pending builds by ABI
 *       <uint> x 11 <float64> x 2
 *
 * where <uint> is major type 0 in any of its lengths; <text> a
 * definite-length text string (up to 4-byte lengths) of valid UTF-8;
 * <float64> is fb and eight bytes; <time> is tag 0 (c0) around a text string
 * of 20 bytes (74) or 27 bytes (78 1b) holding "YYYY-MM-DDTHH:MM:SSZ" or
 * "YYYY-MM-DDTHH:MM:SS.ffffffZ", which cbor2 decodes (and this too) to an
 * aware datetime in datetime.timezone.utc; <map> a definite-length map
 * (up to 2-byte lengths) of <text> keys, no key twice, to <uint> values;
 * <duration> is tag 2001 (d9 07d1) around an array of three <uint>, days,
 * seconds (below 86400) and microseconds (below 10**6), which is how a
 * timedelta is written.
 *
 * The checks (those of protocol._slave, protocol._master_stats and the
 * messages' own): every <uint> (a slave id, a size, a count) at most
 * MAX_INT; every timestamp at or after MIN_TIME and, when a limit is given,
 * at or before it; the load averages and the temperatures within their
 * ranges (NaN is not); each text at most MAX_TEXT characters; a map at
 * most MAX_MAP entries; a duration at most MAX_DURATION.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <structmember.h>
#include <string.h>

#if PY_VERSION_HEX >= 0x030C0000
#define OBJECT_SLOT Py_T_OBJECT_EX
#define READ_ONLY Py_READONLY
#else
#define OBJECT_SLOT T_OBJECT_EX
#define READ_ONLY READONLY
#endif

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
} cursor;

static int
take_byte(cursor *c, unsigned char expected)
{
    if (c->p >= c->end || *c->p != expected)
        return 0;
    c->p++;
    return 1;
}

static int
take_bytes(cursor *c, const char *expected, Py_ssize_t n)
{
    if (c->end - c->p < n || memcmp(c->p, expected, (size_t)n) != 0)
        return 0;
    c->p += n;
    return 1;
}

/* major type 0 (unsigned integer), any length */
static int
take_uint(cursor *c, unsigned long long *value)
{
    unsigned char initial;
    int size, i;
    unsigned long long v = 0;

    if (c->p >= c->end)
        return 0;
    initial = *c->p;
    if (initial >> 5 != 0)
        return 0;
    initial &= 0x1f;
    if (initial < 24) {
        c->p++;
        *value = initial;
        return 1;
    }
    switch (initial) {
    case 24: size = 1; break;
    case 25: size = 2; break;
    case 26: size = 4; break;
    case 27: size = 8; break;
    default: return 0;
    }
    if (c->end - c->p < 1 + size)
        return 0;
    c->p++;
    for (i = 0; i < size; i++)
        v = (v << 8) | c->p[i];
    c->p += size;
    *value = v;
    return 1;
}

static int
take_double(cursor *c, double *value)
{
    unsigned long long bits = 0;
    int i;

    if (c->end - c->p < 9 || *c->p != 0xfb)
        return 0;
    for (i = 1; i <= 8; i++)
        bits = (bits << 8) | c->p[i];
    c->p += 9;
    memcpy(value, &bits, sizeof(*value));
    return 1;
}

static int
digits(const unsigned char *s, int n, int *value)
{
    int i, v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *value = v;
    return 1;
}

/* tag 0 over "YYYY-MM-DDTHH:MM:SS[.ffffff]Z"; a new reference or NULL with
 * no exception set */
static PyObject *
take_time(cursor *c, PyObject *utc)
{
    const unsigned char *s;
    Py_ssize_t n, head;
    int year, month, day, hour, minute, second, micro = 0;
    PyObject *result;

    if (!take_byte(c, 0xc0) || c->end - c->p < 2)
        return NULL;
    /* text(20) has its length in the initial byte, text(27) in the next */
    if (c->p[0] == 0x74) {
        n = 20;
        head = 1;
    } else if (c->p[0] == 0x78 && c->p[1] == 27) {
        n = 27;
        head = 2;
    } else {
        return NULL;
    }
    if (c->end - c->p < head + n)
        return NULL;
    s = c->p + head;
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':'
            || s[16] != ':' || s[n - 1] != 'Z')
        return NULL;
    if (!digits(s, 4, &year) || !digits(s + 5, 2, &month)
            || !digits(s + 8, 2, &day) || !digits(s + 11, 2, &hour)
            || !digits(s + 14, 2, &minute) || !digits(s + 17, 2, &second))
        return NULL;
    if (n == 27 && (s[19] != '.' || !digits(s + 20, 6, &micro)))
        return NULL;
    result = PyDateTimeAPI->DateTime_FromDateAndTime(
        year, month, day, hour, minute, second, micro, utc,
        PyDateTimeAPI->DateTimeType);
    if (result == NULL) {
        /* an impossible date: cbor2 says what is wrong with it */
        PyErr_Clear();
        return NULL;
    }
    c->p += head + n;
    return result;
}

/* major type 3 (text), definite length; a new reference or NULL with no
 * exception set */
static PyObject *
take_text(cursor *c)
{
    unsigned char initial;
    Py_ssize_t head, n;
    PyObject *result;

    if (c->p >= c->end)
        return NULL;
    initial = *c->p;
    if (initial >= 0x60 && initial <= 0x77) {
        head = 1;
        n = initial - 0x60;
    } else if (initial == 0x78 && c->end - c->p >= 2) {
        head = 2;
        n = c->p[1];
    } else if (initial == 0x79 && c->end - c->p >= 3) {
        head = 3;
        n = ((Py_ssize_t)c->p[1] << 8) | c->p[2];
    } else if (initial == 0x7a && c->end - c->p >= 5) {
        unsigned long long v = ((unsigned long long)c->p[1] << 24)
            | ((unsigned long long)c->p[2] << 16)
            | ((unsigned long long)c->p[3] << 8) | c->p[4];
        if (v > (unsigned long long)(c->end - c->p))
            return NULL;
        head = 5;
        n = (Py_ssize_t)v;
    } else {
        return NULL;
    }
    if (c->end - c->p - head < n)
        return NULL;
    result = PyUnicode_DecodeUTF8((const char *)c->p + head, n, "strict");
    if (result == NULL) {
        /* not UTF-8: cbor2 says so */
        PyErr_Clear();
        return NULL;
    }
    c->p += head + n;
    return result;
}

/* major type 5 (map), definite length up to 2 bytes: its number of
 * entries */
static int
take_map_head(cursor *c, Py_ssize_t *count)
{
    unsigned char initial;

    if (c->p >= c->end)
        return 0;
    initial = *c->p;
    if (initial >= 0xa0 && initial <= 0xb7) {
        *count = initial - 0xa0;
        c->p++;
    } else if (initial == 0xb8 && c->end - c->p >= 2) {
        *count = c->p[1];
        c->p += 2;
    } else if (initial == 0xb9 && c->end - c->p >= 3) {
        *count = ((Py_ssize_t)c->p[1] << 8) | c->p[2];
        c->p += 3;
    } else {
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------ configuration */

enum { STATS, BUILD, SEND, DONE, SLEEP, MASTER_STATS, KINDS };

/* the keys of configure()'s events: a slave message's name, and the
 * master's STATS */
static const char *const kind_names[KINDS] = {
    "STATS", "BUILD", "SEND", "DONE", "SLEEP", "MASTER STATS"};
/* the number of fields of each kind's event */
static const Py_ssize_t kind_fields[KINDS] = {11, 4, 3, 2, 3, 19};

#define MAX_FIELDS 19

static struct {
    int ready;
    PyObject *utc;
    PyObject *min_time;
    unsigned long long max_int;
    double load_lo, load_hi, temp_lo, temp_hi;
    Py_ssize_t max_text;
    Py_ssize_t max_map;
    PyObject *max_duration;
    PyTypeObject *types[KINDS];
    Py_ssize_t offsets[KINDS][MAX_FIELDS];
} config;

/* check *spec* for *kind*; its class (borrowed) and offsets into *type*
 * and *offsets* */
static int
configure_kind(int kind, PyObject *spec, PyTypeObject **type,
               Py_ssize_t *offsets)
{
    PyObject *cls, *slots;
    Py_ssize_t i, j;

    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) != 2
            || !PyType_Check(PyTuple_GET_ITEM(spec, 0))
            || !PyTuple_Check(PyTuple_GET_ITEM(spec, 1))) {
        PyErr_Format(PyExc_TypeError,
                     "configure: %s needs (class, tuple of its slots)",
                     kind_names[kind]);
        return -1;
    }
    cls = PyTuple_GET_ITEM(spec, 0);
    slots = PyTuple_GET_ITEM(spec, 1);
    if (PyTuple_GET_SIZE(slots) != kind_fields[kind]) {
        PyErr_Format(PyExc_TypeError, "configure: %s has %zd fields",
                     kind_names[kind], kind_fields[kind]);
        return -1;
    }
    for (i = 0; i < kind_fields[kind]; i++) {
        PyObject *slot = PyTuple_GET_ITEM(slots, i);
        PyMemberDef *member;

        if (!PyObject_TypeCheck(slot, &PyMemberDescr_Type)
                || !PyType_IsSubtype((PyTypeObject *)cls,
                                     PyDescr_TYPE(slot))) {
            PyErr_Format(PyExc_TypeError,
                         "configure: %s: not a slot of the class",
                         kind_names[kind]);
            return -1;
        }
        member = ((PyMemberDescrObject *)slot)->d_member;
        if (member->type != OBJECT_SLOT || (member->flags & READ_ONLY)) {
            PyErr_Format(PyExc_TypeError,
                         "configure: %s: not an object slot",
                         kind_names[kind]);
            return -1;
        }
        offsets[i] = member->offset;
        for (j = 0; j < i; j++) {
            if (offsets[j] == offsets[i]) {
                PyErr_Format(PyExc_TypeError,
                             "configure: %s: a slot given twice",
                             kind_names[kind]);
                return -1;
            }
        }
    }
    *type = (PyTypeObject *)cls;
    return 0;
}

PyDoc_STRVAR(configure_doc,
"configure(min_time, max_int, load, temperature, max_text, max_map,\n"
"          max_duration, events)\n--\n\n"
"Give the limits of the checks (load and temperature as (low, high)) and,\n"
"in events, for each slave message's name and for 'MASTER STATS' the event\n"
"class and the slot descriptors of its fields in order. Until this is\n"
"called, recognise() recognises nothing.");

static PyObject *
configure(PyObject *module, PyObject *args)
{
    PyObject *min_time, *events, *max_int_obj, *max_duration;
    unsigned long long max_int;
    double load_lo, load_hi, temp_lo, temp_hi;
    Py_ssize_t max_text, max_map;
    PyTypeObject *types[KINDS];
    Py_ssize_t offsets[KINDS][MAX_FIELDS];
    int kind;

    (void)module;
    if (!PyArg_ParseTuple(args, "O!O!(dd)(dd)nnO!O!:configure",
                          PyDateTimeAPI->DateTimeType, &min_time,
                          &PyLong_Type, &max_int_obj, &load_lo, &load_hi,
                          &temp_lo, &temp_hi, &max_text, &max_map,
                          PyDateTimeAPI->DeltaType, &max_duration,
                          &PyDict_Type, &events))
        return NULL;
    max_int = PyLong_AsUnsignedLongLong(max_int_obj);
    if (max_int == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError,
                        "configure: max_int must be from 0 to 2**64 - 1");
        return NULL;
    }
    if (max_text < 0 || max_map < 0) {
        PyErr_SetString(PyExc_ValueError,
                        "configure: max_text or max_map below 0");
        return NULL;
    }
    /* everything is checked before anything changes */
    for (kind = 0; kind < KINDS; kind++) {
        PyObject *spec = PyDict_GetItemString(events, kind_names[kind]);

        if (spec == NULL) {
            PyErr_Format(PyExc_TypeError, "configure: no %s in events",
                         kind_names[kind]);
            return NULL;
        }
        if (configure_kind(kind, spec, &types[kind], offsets[kind]) < 0)
            return NULL;
    }
    for (kind = 0; kind < KINDS; kind++) {
        Py_INCREF(types[kind]);
        Py_XSETREF(config.types[kind], types[kind]);
        memcpy(config.offsets[kind], offsets[kind], sizeof(offsets[kind]));
    }
    Py_INCREF(min_time);
    Py_XSETREF(config.min_time, min_time);
    Py_INCREF(max_duration);
    Py_XSETREF(config.max_duration, max_duration);
    config.max_map = max_map;
    config.max_int = max_int;
    config.load_lo = load_lo;
    config.load_hi = load_hi;
    config.temp_lo = temp_lo;
    config.temp_hi = temp_hi;
    config.max_text = max_text;
    config.ready = 1;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------- events */

/* A new event of *kind* holding *values* (new references, always consumed);
 * NULL with no exception set if it could not be made. */
static PyObject *
new_event(int kind, PyObject **values)
{
    PyTypeObject *type = config.types[kind];
    Py_ssize_t i, n = kind_fields[kind];
    PyObject *event = type->tp_alloc(type, 0);

    if (event == NULL) {
        PyErr_Clear();
        for (i = 0; i < n; i++)
            Py_DECREF(values[i]);
        return NULL;
    }
    for (i = 0; i < n; i++)
        *(PyObject **)((char *)event + config.offsets[kind][i]) = values[i];
    return event;
}

static void
release(PyObject **values, Py_ssize_t n)
{
    Py_ssize_t i;

    for (i = 0; i < n; i++)
        Py_XDECREF(values[i]);
}

/* at or after MIN_TIME, and at or before *limit* unless that is None */
static int
time_ok(PyObject *value, PyObject *limit)
{
    int ok = PyObject_RichCompareBool(value, config.min_time, Py_GE);

    if (ok == 1 && limit != Py_None)
        ok = PyObject_RichCompareBool(value, limit, Py_LE);
    if (ok < 0) {
        PyErr_Clear();
        ok = 0;
    }
    return ok;
}

static PyObject *
uint_value(unsigned long long value)
{
    PyObject *result;

    if (value > config.max_int)
        return NULL;
    result = PyLong_FromUnsignedLongLong(value);
    if (result == NULL)
        PyErr_Clear();
    return result;
}

static PyObject *
text_value(cursor *c)
{
    PyObject *result = take_text(c);

    if (result != NULL && PyUnicode_GET_LENGTH(result) > config.max_text)
        Py_CLEAR(result);
    return result;
}

/* a <map> of <text> keys to <uint> values: a new dict, or NULL with no
 * exception set */
static PyObject *
map_value(cursor *c)
{
    Py_ssize_t count, i;
    PyObject *result, *key, *value;
    unsigned long long v;

    if (!take_map_head(c, &count) || count > config.max_map)
        return NULL;
    result = PyDict_New();
    if (result == NULL) {
        PyErr_Clear();
        return NULL;
    }
    for (i = 0; i < count; i++) {
        if ((key = text_value(c)) == NULL)
            goto none;
        if (!take_uint(c, &v) || (value = uint_value(v)) == NULL) {
            Py_DECREF(key);
            goto none;
        }
        /* a key given twice is left to cbor2 (6 refuses it, 5 keeps the
         * last value); PyDict_Contains is -1 on an error */
        if (PyDict_Contains(result, key) != 0
                || PyDict_SetItem(result, key, value) < 0) {
            PyErr_Clear();
            Py_DECREF(key);
            Py_DECREF(value);
            goto none;
        }
        Py_DECREF(key);
        Py_DECREF(value);
    }
    return result;
none:
    Py_DECREF(result);
    return NULL;
}

/* a <duration>: a new timedelta, or NULL with no exception set */
static PyObject *
duration_value(cursor *c)
{
    unsigned long long days, seconds, micros;
    PyObject *result;

    /* as a timedelta is written: days (within a timedelta's range) and the
     * rest below a day and a second; so days + the carry fit in an int */
    if (!take_bytes(c, "\xd9\x07\xd1\x83", 4) || !take_uint(c, &days)
            || !take_uint(c, &seconds) || !take_uint(c, &micros)
            || days > 999999999 || seconds >= 86400 || micros >= 1000000
            || days > config.max_int || seconds > config.max_int
            || micros > config.max_int)
        return NULL;
    result = PyDateTimeAPI->Delta_FromDelta(
        (int)days, (int)seconds, (int)micros, 1, PyDateTimeAPI->DeltaType);
    /* at or above 0 already: no part is negative */
    if (result != NULL && PyObject_RichCompareBool(
            result, config.max_duration, Py_LE) != 1)
        Py_CLEAR(result);
    if (result == NULL)
        PyErr_Clear();
    return result;
}

/* the load average and the temperature that end a STATS message, within
 * their ranges, at c, which must end with the frame: 1 with both as new
 * floats in values[0] and values[1], or 0 with no exception set */
static int
load_and_temperature(cursor *c, PyObject **values)
{
    double load, temperature;

    if (!take_double(c, &load) || !take_double(c, &temperature)
            || c->p != c->end
            || !(config.load_lo <= load && load <= config.load_hi)
            || !(config.temp_lo <= temperature
                 && temperature <= config.temp_hi))
        return 0;
    if ((values[0] = PyFloat_FromDouble(load)) == NULL
            || (values[1] = PyFloat_FromDouble(temperature)) == NULL) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* values[0] and values[1] (slave id, timestamp) are set; the rest follows
 * at c, which must end with the frame */
static PyObject *
stats(cursor *c, PyObject *limit, PyObject **values)
{
    unsigned long long size;
    int i;

    if (!take_byte(c, 0x89))
        goto none;
    values[2] = take_time(c, config.utc);
    if (values[2] == NULL || !time_ok(values[2], limit))
        goto none;
    for (i = 3; i < 9; i++)
        if (!take_uint(c, &size) || (values[i] = uint_value(size)) == NULL)
            goto none;
    if (!load_and_temperature(c, values + 9))
        goto none;
    /* NULL (no exception set) if it could not be made */
    return new_event(STATS, values);
none:
    release(values, MAX_FIELDS);
    Py_RETURN_NONE;
}

/* the master's STATS data follows at c, which must end with the frame */
static PyObject *
master_stats(cursor *c, PyObject *limit)
{
    PyObject *values[MAX_FIELDS] = {NULL};
    unsigned long long size;
    int i;

    values[0] = take_time(c, config.utc);
    if (values[0] == NULL || !time_ok(values[0], limit))
        goto none;
    if (!take_uint(c, &size) || (values[1] = uint_value(size)) == NULL
            || (values[2] = map_value(c)) == NULL
            || (values[3] = duration_value(c)) == NULL
            || !take_uint(c, &size) || (values[4] = uint_value(size)) == NULL
            || (values[5] = map_value(c)) == NULL)
        goto none;
    for (i = 6; i < 17; i++)
        if (!take_uint(c, &size) || (values[i] = uint_value(size)) == NULL)
            goto none;
    if (!load_and_temperature(c, values + 17))
        goto none;
    /* NULL (no exception set) if it could not be made */
    return new_event(MASTER_STATS, values);
none:
    release(values, MAX_FIELDS);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(recognise_doc,
"recognise(frame, limit)\n--\n\n"
"The event of a slave STATS, BUILD, SEND, DONE or SLEEP frame or a master\n"
"STATS frame (bytes) laid out as a piwheels master lays it out and passing\n"
"protocol.py's checks, timestamps at or before *limit* (a datetime, or None\n"
"for no limit); None for any other frame.");

static PyObject *
recognise(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *frame, *limit, *event;
    PyObject *values[MAX_FIELDS] = {NULL};
    unsigned long long sid;
    cursor c;

    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError,
                        "recognise(frame, limit): two arguments");
        return NULL;
    }
    frame = args[0];
    limit = args[1];
    if (limit != Py_None && !PyDateTime_Check(limit)) {
        PyErr_SetString(PyExc_TypeError,
                        "recognise: limit must be a datetime or None");
        return NULL;
    }
    if (!config.ready || !PyBytes_CheckExact(frame))
        Py_RETURN_NONE;
    c.p = (const unsigned char *)PyBytes_AS_STRING(frame);
    c.end = c.p + PyBytes_GET_SIZE(frame);

    if (take_bytes(&c, "\x82\x65STATS\x93", 8)) {
        event = master_stats(&c, limit);
        if (event == NULL)  /* no memory for it: let cbor2 try */
            Py_RETURN_NONE;
        return event;
    }
    if (!take_bytes(&c, "\x82\x65SLAVE\x84", 8) || !take_uint(&c, &sid)
            || (values[0] = uint_value(sid)) == NULL)
        goto none;
    values[1] = take_time(&c, config.utc);
    if (values[1] == NULL || !time_ok(values[1], limit))
        goto none;
    if (take_bytes(&c, "\x65STATS", 6)) {
        event = stats(&c, limit, values);
        if (event == NULL)  /* no memory for it: let cbor2 try */
            Py_RETURN_NONE;
        return event;
    }
    if (take_bytes(&c, "\x65" "BUILD", 6)) {
        if (!take_byte(&c, 0x82) || (values[2] = text_value(&c)) == NULL
                || (values[3] = text_value(&c)) == NULL || c.p != c.end)
            goto none;
        event = new_event(BUILD, values);
    } else if (take_bytes(&c, "\x64SEND", 5)) {
        if ((values[2] = text_value(&c)) == NULL || c.p != c.end)
            goto none;
        event = new_event(SEND, values);
    } else if (take_bytes(&c, "\x64" "DONE\xd9\x07\xd2\xf6", 9)) {
        if (c.p != c.end)
            goto none;
        event = new_event(DONE, values);
    } else if (take_bytes(&c, "\x65SLEEP", 6)) {
        if (c.end - c.p != 1 || (*c.p != 0xf4 && *c.p != 0xf5))
            goto none;
        values[2] = *c.p == 0xf5 ? Py_True : Py_False;
        Py_INCREF(values[2]);
        event = new_event(SLEEP, values);
    } else {
        goto none;
    }
    if (event == NULL)
        Py_RETURN_NONE;
    return event;
none:
    release(values, MAX_FIELDS);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS, configure_doc},
    {"recognise", (PyCFunction)(void (*)(void))recognise,
     METH_FASTCALL, recognise_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "piw_monitor._fastframe",
    "Byte-level recognition of the commonest status frames (optional "
    "accelerator of piw_monitor.protocol.decode_status).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__fastframe(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL)
        return NULL;
    config.utc = PyDateTimeAPI->TimeZone_UTC;
    Py_INCREF(config.utc);
    return PyModule_Create(&module);
}
