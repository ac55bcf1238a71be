/* GB18030 / GBK to UTF-8, table-driven, without the GIL: the departments' usual encoding,
 * decoded at memory speed on every core (see gbfast.py, which builds the table).
 *
 * decode_into(data, length, table, out) -> (written, newlines, quotes) | None
 *   data:   the source block (bytes-like); only its first `length` bytes are decoded
 *   table:  65536 uint32 in the machine's byte order, indexed by (lead << 8) | trail: the character's UTF-8
 *           bytes in the low 3 bytes (first byte lowest) and their count in the top byte; 0
 *           where the pair is not a character of the table (invalid, or the first half of a
 *           four-byte GB18030 sequence)
 *   out:    a writable buffer of at least length + length / 2 + 1 bytes, which receives the
 *           text: the caller uses it again for the next block, so no block costs fresh pages
 * The counts of newline and double-quote bytes come with the text: the transcoding cuts its
 * parts only between lines outside quotes, and counting them again in Python costs as much as
 * the decoding itself. Answers None at the first byte it cannot decode on its own, so the
 * caller decodes the block another way (and finds the bad lines there): it never guesses.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* How many bytes of `word` equal the byte `c`, exactly (no false positives, unlike the
 * classic has-zero test): a byte of t is zero iff the high bit of ~(((t & 7F) + 7F) | t) is set. */
static inline unsigned count_byte(uint64_t word, uint64_t c) {
    const uint64_t low7 = 0x7F7F7F7F7F7F7F7FULL;
    uint64_t t = word ^ (c * 0x0101010101010101ULL);
    uint64_t zero = ~(((t & low7) + low7) | t | low7);
    return (unsigned)__builtin_popcountll(zero);
}

static PyObject *decode_into(PyObject *self, PyObject *args) {
    Py_buffer src, table, out;
    Py_ssize_t length;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*ny*w*", &src, &length, &table, &out)) return NULL;
    /* A two-byte character becomes at most three UTF-8 bytes: 1.5 times the input at most
     * (the ASCII run copies eight bytes at a time, so it needs no slack beyond that). */
    const char *bad = NULL;
    if (length < 0 || length > src.len) bad = "length is outside the data";
    else if (table.len != 65536 * 4) bad = "the table is not 65536 uint32";
    else if (out.len < length + length / 2 + 1) bad = "out is smaller than 1.5 times length";
    if (bad != NULL) {
        PyBuffer_Release(&src);
        PyBuffer_Release(&table);
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, bad);
        return NULL;
    }
    const uint8_t *in = (const uint8_t *)src.buf;
    const uint32_t *map = (const uint32_t *)table.buf;
    uint8_t *dst = (uint8_t *)out.buf;
    Py_ssize_t i = 0, o = 0, newlines = 0, quotes = 0;
    int ok = 1;
    Py_BEGIN_ALLOW_THREADS
    while (i < length) {
        /* ASCII runs eight bytes at a time: most of a CSV is digits, dates and commas. */
        while (i + 8 <= length) {
            uint64_t word;
            memcpy(&word, in + i, 8);
            if (word & 0x8080808080808080ULL) break;
            memcpy(dst + o, &word, 8);
            newlines += count_byte(word, '\n');
            quotes += count_byte(word, '"');
            i += 8;
            o += 8;
        }
        if (i >= length) break;
        uint8_t b = in[i];
        if (b < 0x80) {
            newlines += b == '\n';
            quotes += b == '"';
            dst[o++] = b;
            i++;
            continue;
        }
        if (i + 1 >= length) { ok = 0; break; }
        uint32_t v = map[((uint32_t)b << 8) | in[i + 1]];
        uint32_t n = v >> 24;
        if (n == 0) { ok = 0; break; }
        dst[o] = (uint8_t)v;
        dst[o + 1] = (uint8_t)(v >> 8);
        dst[o + 2] = (uint8_t)(v >> 16);
        o += n;
        i += 2;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&src);
    PyBuffer_Release(&table);
    PyBuffer_Release(&out);
    if (!ok) Py_RETURN_NONE;
    return Py_BuildValue("(nnn)", o, newlines, quotes);
}

static PyMethodDef methods[] = {
    {"decode_into", decode_into, METH_VARARGS,
     "GB18030 two-byte and ASCII text as UTF-8 into out: its length and newline and quote "
     "counts, or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_gbfast", NULL, -1, methods};

PyMODINIT_FUNC PyInit__gbfast(void) { return PyModule_Create(&module); }
