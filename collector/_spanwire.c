/*
 * _spanwire: ExportTraceServiceRequest and ExportLogsServiceRequest protobuf bytes ->
 * column buffers.
 *
 * The ingest hot path. Walking every span attribute from Python costs about a
 * microsecond an attribute; this reads the protobuf wire format once, in C, with the
 * GIL released, and writes the store's columns directly: ids as lowercase hex, the
 * attribute maps as glimpse's typed JSON (tracing/attributes.py), the promoted
 * semantic-convention columns (tracing/semconv.py), events and links as Arrow-ready
 * offsets and children. decode_logs() does the same for log records (otel_logs), with
 * the same wire reader, typed JSON, resources and scopes.
 *
 * It is a fast path, not a second definition of the format: whenever a request is
 * anything but plain well-formed OTLP (bad wire format, invalid UTF-8, a repeated
 * key in one attribute map, a merged message field, a timestamp past 2^63, deep
 * nesting, a span or log record with an invalid id to reject), the decoder returns None
 * and the caller uses the reference Python decoder (collector/decode.py), which gives
 * the exact answer or error. The tests check that both decoders produce identical tables.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAIL (-1)
#define NOMEM (-2)
/* protobuf refuses more than 100 nested messages; each AnyValue level can add three */
#define MAX_DEPTH 20
#define MAX_PROMOTED 64
#define MAX_KEYS 128
#define MAX_KEY_LEN 64 /* longest promoted attribute key, plus one */

/* ------------------------------------------------------------------ buffers */

typedef struct {
    char *data;
    size_t len, cap;
} buf_t;

static int buf_reserve(buf_t *b, size_t extra) {
    if (b->len + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return NOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

static inline int buf_put(buf_t *b, const void *src, size_t n) {
    if (buf_reserve(b, n)) return NOMEM;
    if (n) memcpy(b->data + b->len, src, n);
    b->len += n;
    return 0;
}

static inline int buf_byte(buf_t *b, char c) {
    if (buf_reserve(b, 1)) return NOMEM;
    b->data[b->len++] = c;
    return 0;
}

#define PUT_SCALAR(b, type, value)          \
    do {                                    \
        type v_ = (value);                  \
        if (buf_put((b), &v_, sizeof v_))   \
            return NOMEM;                   \
    } while (0)

#define TRY(expr)               \
    do {                        \
        int rc_ = (expr);       \
        if (rc_) return rc_;    \
    } while (0)

/* A string column: int32 offsets, UTF-8 data, and a validity bitmap (LSB first). */
typedef struct {
    buf_t offsets, data, validity;
    size_t count;
    int nulls;
} strcol_t;

static int strcol_init(strcol_t *c) {
    int32_t zero = 0;
    return buf_put(&c->offsets, &zero, sizeof zero);
}

static int validity_push(buf_t *v, size_t index, int valid) {
    if (index % 8 == 0) TRY(buf_byte(v, 0));
    if (valid) v->data[index / 8] |= (char)(1u << (index % 8));
    return 0;
}

static int strcol_end_value(strcol_t *c, int valid) {
    if (c->data.len > INT32_MAX) return BAIL;
    TRY(validity_push(&c->validity, c->count, valid));
    if (!valid) c->nulls++;
    c->count++;
    PUT_SCALAR(&c->offsets, int32_t, (int32_t)c->data.len);
    return 0;
}

static int strcol_push(strcol_t *c, const void *s, size_t n) {
    TRY(buf_put(&c->data, s, n));
    return strcol_end_value(c, 1);
}

static int strcol_null(strcol_t *c) { return strcol_end_value(c, 0); }

typedef struct {
    buf_t values, validity;
    size_t count;
    int nulls;
} intcol_t;

static int intcol_push(intcol_t *c, int valid, int64_t value) {
    TRY(validity_push(&c->validity, c->count, valid));
    if (!valid) c->nulls++;
    c->count++;
    PUT_SCALAR(&c->values, int64_t, valid ? value : 0);
    return 0;
}

/* ------------------------------------------------------------------ wire format */

typedef struct {
    const uint8_t *p, *end;
} rd_t;

typedef struct {
    const uint8_t *p;
    size_t n;
} slice_t;

static inline int rd_varint(rd_t *r, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return BAIL;
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return BAIL;
}

static inline int rd_tag(rd_t *r, uint32_t *field, int *wire_type) {
    uint64_t tag;
    TRY(rd_varint(r, &tag));
    if (tag > UINT32_MAX || (tag >> 3) == 0) return BAIL;
    *field = (uint32_t)(tag >> 3);
    *wire_type = (int)(tag & 7);
    return 0;
}

static inline int rd_len(rd_t *r, slice_t *out) {
    uint64_t n;
    TRY(rd_varint(r, &n));
    if (n > (uint64_t)(r->end - r->p)) return BAIL;
    out->p = r->p;
    out->n = (size_t)n;
    r->p += n;
    return 0;
}

static inline int rd_fixed64(rd_t *r, uint64_t *out) {
    if (r->end - r->p < 8) return BAIL;
    memcpy(out, r->p, 8); /* protobuf is little-endian, as is every platform glimpse builds on */
    r->p += 8;
    return 0;
}

static inline int rd_fixed32(rd_t *r, uint32_t *out) {
    if (r->end - r->p < 4) return BAIL;
    memcpy(out, r->p, 4);
    r->p += 4;
    return 0;
}

static int rd_skip(rd_t *r, int wire_type) {
    uint64_t ignored;
    slice_t s;
    switch (wire_type) {
    case 0: return rd_varint(r, &ignored);
    case 1: return rd_fixed64(r, &ignored);
    case 2: return rd_len(r, &s);
    case 5: {
        uint32_t ignored32;
        return rd_fixed32(r, &ignored32);
    }
    default: return BAIL; /* groups and invalid wire types: leave them to the reference decoder */
    }
}

/* ------------------------------------------------------------------ UTF-8, hex, base64 */

static int utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t chunk;
            memcpy(&chunk, s + i, 8);
            if (!(chunk & 0x8080808080808080ULL)) {
                i += 8;
                continue;
            }
        }
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= need) return 0;
        for (size_t k = 1; k <= need; k++) {
            uint8_t cc = s[i + k];
            if ((cc & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
        if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
        i += need + 1;
    }
    return 1;
}

static inline int rd_string(rd_t *r, slice_t *out) {
    TRY(rd_len(r, out));
    return utf8_valid(out->p, out->n) ? 0 : BAIL;
}

/* Readers of one field's value that first check its wire type: a field that protobuf
 * would read differently goes, with its request, to the reference decoder. */
static inline int field_len(rd_t *r, int wt, slice_t *out) { return wt == 2 ? rd_len(r, out) : BAIL; }
static inline int field_string(rd_t *r, int wt, slice_t *out) { return wt == 2 ? rd_string(r, out) : BAIL; }
static inline int field_varint(rd_t *r, int wt, uint64_t *out) { return wt == 0 ? rd_varint(r, out) : BAIL; }
static inline int field_fixed64(rd_t *r, int wt, uint64_t *out) { return wt == 1 ? rd_fixed64(r, out) : BAIL; }
static inline int field_fixed32(rd_t *r, int wt, uint32_t *out) { return wt == 5 ? rd_fixed32(r, out) : BAIL; }

static const char HEX[] = "0123456789abcdef";

static int put_hex(strcol_t *c, slice_t id) {
    char text[32];
    for (size_t i = 0; i < id.n; i++) {
        text[2 * i] = HEX[id.p[i] >> 4];
        text[2 * i + 1] = HEX[id.p[i] & 15];
    }
    return strcol_push(c, text, 2 * id.n);
}

static int put_base64(buf_t *b, const uint8_t *s, size_t n) {
    static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    TRY(buf_reserve(b, (n + 2) / 3 * 4));
    char *o = b->data + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *o++ = ALPHABET[v >> 18];
        *o++ = ALPHABET[(v >> 12) & 63];
        *o++ = ALPHABET[(v >> 6) & 63];
        *o++ = ALPHABET[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        *o++ = ALPHABET[v >> 18];
        *o++ = ALPHABET[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        *o++ = ALPHABET[v >> 18];
        *o++ = ALPHABET[(v >> 12) & 63];
        *o++ = ALPHABET[(v >> 6) & 63];
        *o++ = '=';
    }
    b->len = (size_t)(o - b->data);
    return 0;
}

/* ------------------------------------------------------------------ numbers as text */

/* Decimal digits of v into out (no terminator); returns the count. printf is several
 * times slower, and ints are in most attribute maps. */
static int put_u64(char *out, uint64_t v) {
    char rev[20];
    int n = 0;
    do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++) out[i] = rev[n - 1 - i];
    return n;
}

/* "%lld" of v, NUL-terminated; returns the length. */
static int format_int(int64_t v, char *out) {
    int n = 0;
    uint64_t magnitude = (uint64_t)v;
    if (v < 0) {
        out[n++] = '-';
        magnitude = 0 - magnitude;
    }
    n += put_u64(out + n, magnitude);
    out[n] = '\0';
    return n;
}

/* Exact powers of ten: every one up to 1e22 is a double. */
static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/*
 * The shortest digits of |x| without printf, for the values attributes mostly carry:
 * decimals of at most 15 significant digits. m / 10^k is correctly rounded, exactly as
 * strtod reads "m e-k", so the first k where it gives back |x| is the fewest fractional
 * digits that read back, hence the shortest form. Scaled values stay under 2^50, so the
 * product's rounding error (at most 1/8) cannot make nearbyint pick the wrong integer.
 * Returns 0 when |x| is not such a decimal; the exact search below then takes it.
 */
static int short_decimal(double x, uint64_t *mantissa, int *exponent) {
    double a = fabs(x);
    if (a == 0) {
        *mantissa = 0;
        *exponent = 0;
        return 1;
    }
    for (int k = 0; k < (int)(sizeof POW10 / sizeof *POW10); k++) {
        double scaled = a * POW10[k];
        if (scaled >= 1e15) return 0;
        double m = nearbyint(scaled);
        if (m / POW10[k] == a) {
            *mantissa = (uint64_t)m;
            *exponent = -k;
            return 1;
        }
    }
    return 0;
}

/* Does the decimal mantissa * 10^exponent read back as exactly x? */
static int reads_back(uint64_t mantissa, int exponent, double x) {
    char text[48];
    snprintf(text, sizeof text, "%llue%d", (unsigned long long)mantissa, exponent);
    return strtod(text, NULL) == fabs(x);
}

/* The shortest digits of |x| that read back as exactly x, for any finite x: an exact
 * search through printf and strtod (slow; short_decimal takes most values first). */
static void shortest_digits(double x, uint64_t *mantissa_out, int *exponent_out) {
    /* the fewest correctly rounded digits that read back (if p digits do, p + 1 do) */
    char tmp[40];
    int lo = 1, hi = 17;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        snprintf(tmp, sizeof tmp, "%.*e", mid - 1, x);
        if (strtod(tmp, NULL) == x) hi = mid;
        else lo = mid + 1;
    }
    snprintf(tmp, sizeof tmp, "%.*e", lo - 1, fabs(x));
    /* tmp is d[.ddd]e[+-]XX: as an integer mantissa of lo digits and its exponent */
    uint64_t mantissa = 0;
    const char *s = tmp;
    for (; *s && *s != 'e'; s++)
        if (*s != '.') mantissa = mantissa * 10 + (uint64_t)(*s - '0');
    int exponent = atoi(s + 1) - (lo - 1);
    /* Where x's rounding interval is lopsided (powers of two), one digit fewer can still
     * read back when it is not the correctly rounded one: try its neighbours. */
    while (mantissa >= 10) {
        uint64_t shorter = (mantissa + 5) / 10;
        if (reads_back(shorter, exponent + 1, x)) {
        } else if (shorter > 0 && reads_back(shorter - 1, exponent + 1, x)) {
            shorter -= 1;
        } else if (reads_back(shorter + 1, exponent + 1, x)) {
            shorter += 1;
        } else {
            break;
        }
        mantissa = shorter;
        exponent += 1;
    }
    *mantissa_out = mantissa;
    *exponent_out = exponent;
}

/*
 * The shortest digits that read back as exactly x, laid out as Python's repr(x): fixed
 * notation for decimal exponents -4 < e <= 16, otherwise d.ddde+XX. With json set, laid
 * out as orjson writes it: fixed notation from -5 < e, and no zero-padded exponent.
 */
static int format_double(double x, char *out, int json) {
    uint64_t mantissa;
    int exponent;
    if (!short_decimal(x, &mantissa, &exponent)) shortest_digits(x, &mantissa, &exponent);
    while (mantissa >= 10 && mantissa % 10 == 0) {
        mantissa /= 10;
        exponent += 1;
    }
    char digits[24];
    int nd = put_u64(digits, mantissa);
    int decpt = nd + exponent; /* x = 0.digits * 10^decpt */
    char *o = out;
    if (signbit(x)) *o++ = '-';
    if (decpt > (json ? -5 : -4) && decpt <= 16) {
        if (decpt <= 0) {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -decpt; i++) *o++ = '0';
            memcpy(o, digits, (size_t)nd);
            o += nd;
        } else if (decpt >= nd) {
            memcpy(o, digits, (size_t)nd);
            o += nd;
            for (int i = nd; i < decpt; i++) *o++ = '0';
            *o++ = '.';
            *o++ = '0';
        } else {
            memcpy(o, digits, (size_t)decpt);
            o += decpt;
            *o++ = '.';
            memcpy(o, digits + decpt, (size_t)(nd - decpt));
            o += nd - decpt;
        }
    } else {
        *o++ = digits[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)(nd - 1));
            o += nd - 1;
        }
        int e = decpt - 1;
        *o++ = 'e';
        *o++ = e < 0 ? '-' : '+';
        if (e < 0) e = -e;
        if (!json && e < 10) *o++ = '0';
        o += put_u64(o, (uint64_t)e);
    }
    *o = '\0';
    return (int)(o - out);
}

/* A decimal integer in int64 range: optional sign, ASCII digits, nothing else. */
static int parse_decimal(slice_t s, int64_t *out) {
    size_t i = 0;
    int negative = 0;
    if (s.n && (s.p[0] == '+' || s.p[0] == '-')) {
        negative = s.p[0] == '-';
        i = 1;
    }
    if (i == s.n) return 0;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9') return 0;
        uint64_t digit = (uint64_t)(s.p[i] - '0');
        if (v > (limit - digit) / 10) return 0;
        v = v * 10 + digit;
    }
    *out = negative ? (int64_t)(0 - v) : (int64_t)v;
    return 1;
}

/* ------------------------------------------------------------------ AnyValue and typed JSON */

enum { V_EMPTY, V_STRING, V_BOOL, V_INT, V_DOUBLE, V_ARRAY, V_KVLIST, V_BYTES };

typedef struct {
    int type;
    slice_t s; /* string, bytes, or the array/kvlist message */
    int64_t i;
    double d;
} anyval_t;

static int parse_anyvalue(slice_t msg, anyval_t *v) {
    rd_t r = {msg.p, msg.p + msg.n};
    int seen = 0;
    v->type = V_EMPTY;
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        uint64_t raw;
        TRY(rd_tag(&r, &field, &wt));
        if (field == 8) return BAIL; /* string_value_strindex: profiles only; the reference stores null */
        if (field >= 1 && field <= 7) {
            if (seen++) return BAIL; /* oneof overwrites and message merges: reference decoder */
            switch (field) {
            case 1:
                TRY(field_string(&r, wt, &v->s));
                v->type = V_STRING;
                break;
            case 2:
                TRY(field_varint(&r, wt, &raw));
                v->i = raw != 0;
                v->type = V_BOOL;
                break;
            case 3:
                TRY(field_varint(&r, wt, &raw));
                v->i = (int64_t)raw;
                v->type = V_INT;
                break;
            case 4:
                TRY(field_fixed64(&r, wt, &raw));
                memcpy(&v->d, &raw, 8);
                v->type = V_DOUBLE;
                break;
            default:
                TRY(field_len(&r, wt, &v->s));
                v->type = field == 5 ? V_ARRAY : field == 6 ? V_KVLIST : V_BYTES;
            }
        } else {
            TRY(rd_skip(&r, wt));
        }
    }
    return 0;
}

typedef struct {
    slice_t key;
    slice_t value;
} kv_t;

typedef struct {
    kv_t *items;
    size_t n, cap;
    kv_t inline_items[16];
} kvvec_t;

static void kvvec_init(kvvec_t *v) {
    v->items = v->inline_items;
    v->n = 0;
    v->cap = 16;
}

static void kvvec_free(kvvec_t *v) {
    if (v->items != v->inline_items) free(v->items);
    kvvec_init(v);
}

/* Parse one KeyValue message and append it. */
static int kvvec_add(kvvec_t *v, slice_t msg) {
    if (v->n == v->cap) {
        size_t cap = v->cap * 2;
        kv_t *items = malloc(cap * sizeof *items);
        if (!items) return NOMEM;
        memcpy(items, v->items, v->n * sizeof *items);
        if (v->items != v->inline_items) free(v->items);
        v->items = items;
        v->cap = cap;
    }
    kv_t *kv = &v->items[v->n];
    kv->key.p = kv->value.p = msg.p;
    kv->key.n = kv->value.n = 0;
    int has_key = 0, has_value = 0;
    rd_t r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        TRY(rd_tag(&r, &field, &wt));
        if (field == 1) {
            if (wt != 2 || has_key++) return BAIL;
            TRY(rd_string(&r, &kv->key));
        } else if (field == 2) {
            if (wt != 2 || has_value++) return BAIL;
            TRY(rd_len(&r, &kv->value));
        } else {
            TRY(rd_skip(&r, wt));
        }
    }
    v->n++;
    return 0;
}

/* A repeated key keeps its first position and last value in the reference decoder. */
static int kvvec_has_duplicates(const kvvec_t *v) {
    if (v->n > MAX_KEYS) return 1;
    for (size_t i = 1; i < v->n; i++)
        for (size_t j = 0; j < i; j++)
            if (v->items[i].key.n == v->items[j].key.n &&
                memcmp(v->items[i].key.p, v->items[j].key.p, v->items[i].key.n) == 0)
                return 1;
    return 0;
}

/* 1 for the bytes JSON strings must escape: controls, the quote, the backslash */
static uint8_t NEEDS_ESCAPE[256];

static void init_escape_table(void) {
    for (int c = 0; c < 0x20; c++) NEEDS_ESCAPE[c] = 1;
    NEEDS_ESCAPE['"'] = NEEDS_ESCAPE['\\'] = 1;
}

/* Could any of these 8 bytes need escaping? (Exact for clean words; a rare false
 * positive only sends the word through the byte loop.) */
static inline int word_may_escape(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t control = (w - 0x20 * ones) & ~w & highs;
    uint64_t quote = w ^ ('"' * ones), backslash = w ^ ('\\' * ones);
    quote = (quote - ones) & ~quote & highs;
    backslash = (backslash - ones) & ~backslash & highs;
    return (control | quote | backslash) != 0;
}

static int put_json_string(buf_t *b, const uint8_t *s, size_t n) {
    TRY(buf_reserve(b, n + 2));
    b->data[b->len++] = '"';
    size_t start = 0, i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t word;
            memcpy(&word, s + i, 8);
            if (!word_may_escape(word)) {
                i += 8;
                continue;
            }
        }
        for (size_t stop = i + 8 < n ? i + 8 : n; i < stop; i++) {
            uint8_t c = s[i];
            if (!NEEDS_ESCAPE[c]) continue;
            TRY(buf_put(b, s + start, i - start));
            char escaped[8];
            const char *e = escaped;
            switch (c) {
            case '"': e = "\\\""; break;
            case '\\': e = "\\\\"; break;
            case '\n': e = "\\n"; break;
            case '\r': e = "\\r"; break;
            case '\t': e = "\\t"; break;
            case '\b': e = "\\b"; break;
            case '\f': e = "\\f"; break;
            default:
                escaped[0] = '\\';
                escaped[1] = 'u';
                escaped[2] = escaped[3] = '0';
                escaped[4] = HEX[c >> 4];
                escaped[5] = HEX[c & 15];
                escaped[6] = '\0';
            }
            TRY(buf_put(b, e, strlen(e)));
            start = i + 1;
        }
    }
    TRY(buf_put(b, s + start, n - start));
    return buf_byte(b, '"');
}

static int put_cstr(buf_t *b, const char *s) { return buf_put(b, s, strlen(s)); }

static int put_map(buf_t *b, const kvvec_t *kvs, int tag_wrap, int depth);

static int is_tag_key(slice_t key) {
    static const char *TAGS[] = {"bytesValue", "doubleValue", "kvlistValue"};
    for (int i = 0; i < 3; i++)
        if (key.n == strlen(TAGS[i]) && memcmp(key.p, TAGS[i], key.n) == 0) return 1;
    return 0;
}

static int put_value(buf_t *b, slice_t msg, int depth) {
    if (depth > MAX_DEPTH) return BAIL;
    anyval_t v;
    TRY(parse_anyvalue(msg, &v));
    char text[48];
    switch (v.type) {
    case V_EMPTY: return put_cstr(b, "null");
    case V_STRING: return put_json_string(b, v.s.p, v.s.n);
    case V_BOOL: return put_cstr(b, v.i ? "true" : "false");
    case V_INT:
        return buf_put(b, text, (size_t)format_int(v.i, text));
    case V_DOUBLE:
        if (isnan(v.d)) return put_cstr(b, "{\"doubleValue\":\"NaN\"}");
        if (isinf(v.d)) return put_cstr(b, v.d > 0 ? "{\"doubleValue\":\"Infinity\"}" : "{\"doubleValue\":\"-Infinity\"}");
        format_double(v.d, text, 1);
        return put_cstr(b, text);
    case V_BYTES:
        TRY(put_cstr(b, "{\"bytesValue\":\""));
        TRY(put_base64(b, v.s.p, v.s.n));
        return put_cstr(b, "\"}");
    case V_ARRAY: {
        TRY(buf_byte(b, '['));
        rd_t r = {v.s.p, v.s.p + v.s.n};
        int first = 1;
        while (r.p < r.end) {
            uint32_t field;
            int wt;
            TRY(rd_tag(&r, &field, &wt));
            if (field != 1) {
                TRY(rd_skip(&r, wt));
                continue;
            }
            slice_t item;
            TRY(field_len(&r, wt, &item));
            if (!first) TRY(buf_byte(b, ','));
            first = 0;
            TRY(put_value(b, item, depth + 1));
        }
        return buf_byte(b, ']');
    }
    default: { /* V_KVLIST */
        kvvec_t kvs;
        kvvec_init(&kvs);
        rd_t r = {v.s.p, v.s.p + v.s.n};
        int rc = 0;
        while (!rc && r.p < r.end) {
            uint32_t field;
            int wt;
            slice_t item;
            rc = rd_tag(&r, &field, &wt);
            if (rc) break;
            if (field != 1) {
                rc = rd_skip(&r, wt);
            } else if (wt != 2) {
                rc = BAIL;
            } else if (!(rc = rd_len(&r, &item))) {
                rc = kvvec_add(&kvs, item);
            }
        }
        if (!rc) rc = put_map(b, &kvs, 1, depth + 1);
        kvvec_free(&kvs);
        return rc;
    }
    }
}

static int put_map(buf_t *b, const kvvec_t *kvs, int tag_wrap, int depth) {
    if (kvvec_has_duplicates(kvs)) return BAIL;
    int wrap = tag_wrap && kvs->n == 1 && is_tag_key(kvs->items[0].key);
    if (wrap) TRY(put_cstr(b, "{\"kvlistValue\":"));
    TRY(buf_byte(b, '{'));
    for (size_t i = 0; i < kvs->n; i++) {
        if (i) TRY(buf_byte(b, ','));
        TRY(put_json_string(b, kvs->items[i].key.p, kvs->items[i].key.n));
        TRY(buf_byte(b, ':'));
        TRY(put_value(b, kvs->items[i].value, depth));
    }
    TRY(buf_byte(b, '}'));
    return wrap ? buf_byte(b, '}') : 0;
}

/* ------------------------------------------------------------------ promoted columns */

typedef struct {
    char *key;
    size_t key_len;
    int column, rank, integer;
} promo_key_t;

typedef struct {
    promo_key_t keys[MAX_PROMOTED]; /* sorted by key length */
    int n_keys, n_columns;
    int integer[MAX_PROMOTED];        /* per column */
    int first_of_len[MAX_KEY_LEN + 1]; /* keys[first_of_len[n] : first_of_len[n + 1]] have length n */
} promo_table_t;

static promo_table_t SPAN_KEYS, RESOURCE_KEYS;

typedef struct {
    int rank[MAX_PROMOTED];  /* best rank so far; INT32_MAX when unset */
    int kind[MAX_PROMOTED];  /* 0 unset, 1 text, 2 integer */
    slice_t text[MAX_PROMOTED];
    int64_t number[MAX_PROMOTED];
    char formatted[MAX_PROMOTED][48];
} promo_state_t;

/* Fill each promoted column from the first key present, newest convention first
 * (tracing/semconv.py promote()). Values that cannot fill the column are skipped. */
static int promote(const promo_table_t *table, const kvvec_t *kvs, promo_state_t *st) {
    for (int c = 0; c < table->n_columns; c++) {
        st->rank[c] = INT32_MAX;
        st->kind[c] = 0;
    }
    for (size_t i = 0; i < kvs->n; i++) {
        const kv_t *kv = &kvs->items[i];
        if (kv->key.n >= MAX_KEY_LEN) continue;
        for (int k = table->first_of_len[kv->key.n]; k < table->first_of_len[kv->key.n + 1]; k++) {
            const promo_key_t *pk = &table->keys[k];
            if (memcmp(pk->key, kv->key.p, kv->key.n) != 0) continue;
            int c = pk->column;
            if (pk->rank >= st->rank[c]) break;
            anyval_t v;
            TRY(parse_anyvalue(kv->value, &v));
            if (pk->integer) {
                int64_t number;
                if (v.type == V_INT) {
                    number = v.i;
                } else if (v.type != V_STRING || !parse_decimal(v.s, &number)) {
                    break;
                }
                st->kind[c] = 2;
                st->number[c] = number;
            } else {
                char *text = st->formatted[c];
                if (v.type == V_STRING) {
                    st->text[c] = v.s;
                } else if (v.type == V_BOOL) {
                    st->text[c].p = (const uint8_t *)(v.i ? "true" : "false");
                    st->text[c].n = v.i ? 4 : 5;
                } else if (v.type == V_INT) {
                    st->text[c].p = (const uint8_t *)text;
                    st->text[c].n = (size_t)format_int(v.i, text);
                } else if (v.type == V_DOUBLE && isfinite(v.d)) {
                    st->text[c].p = (const uint8_t *)text;
                    st->text[c].n = (size_t)format_double(v.d, text, 0);
                } else {
                    break;
                }
                st->kind[c] = 1;
            }
            st->rank[c] = pk->rank;
            break;
        }
    }
    return 0;
}

static int by_key_length(const void *a, const void *b) {
    size_t la = ((const promo_key_t *)a)->key_len, lb = ((const promo_key_t *)b)->key_len;
    return (la > lb) - (la < lb);
}

static int load_keys(PyObject *spec, promo_table_t *table) {
    /* spec: list of (key: str, column: int, rank: int, integer: bool) */
    PyObject *seq = PySequence_Fast(spec, "promoted keys must be a sequence");
    if (!seq) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > MAX_PROMOTED) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "too many promoted keys");
        return -1;
    }
    for (int k = 0; k < table->n_keys; k++) free(table->keys[k].key);
    memset(table, 0, sizeof *table);
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *key;
        Py_ssize_t key_len;
        int column, rank, integer;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "s#iip", &key, &key_len, &column, &rank, &integer)) {
            Py_DECREF(seq);
            return -1;
        }
        if (column < 0 || column >= MAX_PROMOTED) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_ValueError, "promoted column index out of range");
            return -1;
        }
        promo_key_t *pk = &table->keys[table->n_keys++];
        pk->key = malloc((size_t)key_len + 1);
        if (!pk->key) {
            Py_DECREF(seq);
            PyErr_NoMemory();
            return -1;
        }
        memcpy(pk->key, key, (size_t)key_len + 1);
        pk->key_len = (size_t)key_len;
        pk->column = column;
        pk->rank = rank;
        pk->integer = integer;
        table->integer[column] = integer;
        if (column + 1 > table->n_columns) table->n_columns = column + 1;
        if (key_len >= MAX_KEY_LEN) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_ValueError, "promoted key too long");
            return -1;
        }
    }
    Py_DECREF(seq);
    qsort(table->keys, (size_t)table->n_keys, sizeof *table->keys, by_key_length);
    for (int len = 0, k = 0; len <= MAX_KEY_LEN; len++) {
        while (k < table->n_keys && table->keys[k].key_len < (size_t)len) k++;
        table->first_of_len[len] = k;
    }
    return 0;
}

/* ------------------------------------------------------------------ decoder state */

typedef struct {
    size_t json_off, json_len;
    slice_t schema_url, service;
    int has_service;
    uint32_t dropped;
    /* promoted resource values: offset/length into resource_text, or -1 */
    long long promo_off[MAX_PROMOTED];
    size_t promo_len[MAX_PROMOTED];
} resource_t;

typedef struct {
    size_t resource;
    slice_t name, version, schema_url;
    size_t attrs_off, attrs_len;
    size_t count;
} block_t;

/* The resources and scopes of one request, shared by the trace and log decoders: each
 * resource once, and one block per scope that holds items (the items of a block follow
 * each other in the columns). */
typedef struct {
    buf_t resources, blocks, text; /* arrays of resource_t, block_t; the text they point into */
    size_t n_resources, n_blocks;
    kvvec_t kvs; /* one resource's or scope's attributes */
    promo_state_t promo;
} resources_t;

static void resources_init(resources_t *rs) {
    memset(rs, 0, sizeof *rs);
    kvvec_init(&rs->kvs);
}

static void resources_free(resources_t *rs) {
    free(rs->resources.data);
    free(rs->blocks.data);
    free(rs->text.data);
    kvvec_free(&rs->kvs);
}

typedef struct {
    slice_t *items;
    size_t n, cap;
} slicevec_t;

static int slicevec_add(slicevec_t *v, slice_t s) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        slice_t *items = realloc(v->items, cap * sizeof *items);
        if (!items) return NOMEM;
        v->items = items;
        v->cap = cap;
    }
    v->items[v->n++] = s;
    return 0;
}

typedef struct {
    size_t spans;
    buf_t timestamp, duration, flags, dropped_attrs, dropped_events, dropped_links;
    strcol_t kind, status, trace_id, span_id, parent_id, trace_state, name, status_message, attributes;
    buf_t event_offsets, event_time, event_dropped;
    strcol_t event_name, event_attributes;
    size_t events;
    buf_t link_offsets, link_dropped, link_flags;
    strcol_t link_trace_id, link_span_id, link_trace_state, link_attributes;
    size_t links;
    strcol_t promo_text[MAX_PROMOTED];
    intcol_t promo_int[MAX_PROMOTED];
    resources_t rs;
    kvvec_t span_kvs, item_kvs;
    slicevec_t span_events, span_links; /* one span's, as message slices */
    promo_state_t promo;
} ctx_t;

static void strcol_free(strcol_t *c) {
    free(c->offsets.data);
    free(c->data.data);
    free(c->validity.data);
}

static void ctx_free(void *ctx) {
    ctx_t *c = ctx;
    buf_t *bufs[] = {&c->timestamp, &c->duration, &c->flags, &c->dropped_attrs, &c->dropped_events,
                     &c->dropped_links, &c->event_offsets, &c->event_time,
                     &c->event_dropped, &c->link_offsets, &c->link_dropped, &c->link_flags};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]->data);
    strcol_t *cols[] = {&c->kind, &c->status, &c->trace_id, &c->span_id, &c->parent_id, &c->trace_state, &c->name,
                        &c->status_message, &c->attributes, &c->event_name, &c->event_attributes,
                        &c->link_trace_id, &c->link_span_id, &c->link_trace_state, &c->link_attributes};
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++) strcol_free(cols[i]);
    for (int i = 0; i < MAX_PROMOTED; i++) {
        strcol_free(&c->promo_text[i]);
        free(c->promo_int[i].values.data);
        free(c->promo_int[i].validity.data);
    }
    kvvec_free(&c->span_kvs);
    kvvec_free(&c->item_kvs);
    free(c->span_events.items);
    free(c->span_links.items);
    resources_free(&c->rs);
}

static int ctx_init(void *ctx) {
    ctx_t *c = ctx;
    memset(c, 0, sizeof *c);
    kvvec_init(&c->span_kvs);
    kvvec_init(&c->item_kvs);
    resources_init(&c->rs);
    strcol_t *cols[] = {&c->kind, &c->status, &c->trace_id, &c->span_id, &c->parent_id, &c->trace_state, &c->name,
                        &c->status_message, &c->attributes, &c->event_name, &c->event_attributes,
                        &c->link_trace_id, &c->link_span_id, &c->link_trace_state, &c->link_attributes};
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++) TRY(strcol_init(cols[i]));
    for (int i = 0; i < SPAN_KEYS.n_columns; i++) TRY(strcol_init(&c->promo_text[i]));
    PUT_SCALAR(&c->event_offsets, int32_t, 0);
    PUT_SCALAR(&c->link_offsets, int32_t, 0);
    return 0;
}

/* ------------------------------------------------------------------ spans */

static int valid_id(slice_t id, size_t len) {
    if (id.n != len) return 0;
    for (size_t i = 0; i < len; i++)
        if (id.p[i]) return 1;
    return 0;
}

typedef struct {
    slice_t trace_id, span_id, parent_id, trace_state, name, status_message;
    uint64_t start, end;
    uint32_t flags, dropped_attrs, dropped_events, dropped_links;
    int32_t kind, status_code;
    int has_status;
    /* the repeated fields, as ranges of message slices in ctx scratch vectors */
} span_t;

static int parse_status(slice_t msg, span_t *s) {
    rd_t r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        uint64_t raw;
        TRY(rd_tag(&r, &field, &wt));
        if (field == 2) {
            TRY(field_string(&r, wt, &s->status_message));
        } else if (field == 3) {
            TRY(field_varint(&r, wt, &raw));
            s->status_code = (int32_t)(uint32_t)raw;
        } else {
            TRY(rd_skip(&r, wt));
        }
    }
    return 0;
}

static int link_ids_valid(slice_t msg, int *valid) {
    slice_t trace_id = {NULL, 0}, span_id = {NULL, 0};
    rd_t r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        TRY(rd_tag(&r, &field, &wt));
        if (field == 1 || field == 2) {
            TRY(field_len(&r, wt, field == 1 ? &trace_id : &span_id));
        } else {
            TRY(rd_skip(&r, wt));
        }
    }
    *valid = valid_id(trace_id, 16) && valid_id(span_id, 8);
    return 0;
}

static int put_attributes(strcol_t *col, const kvvec_t *kvs) {
    TRY(put_map(&col->data, kvs, 0, 0));
    return strcol_end_value(col, 1);
}

static int put_event(ctx_t *c, slice_t msg) {
    uint64_t time = 0, raw;
    slice_t name = {NULL, 0};
    uint32_t dropped = 0;
    c->item_kvs.n = 0;
    rd_t r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        slice_t s;
        TRY(rd_tag(&r, &field, &wt));
        switch (field) {
        case 1:
            TRY(field_fixed64(&r, wt, &time));
            break;
        case 2:
            TRY(field_string(&r, wt, &name));
            break;
        case 3:
            TRY(field_len(&r, wt, &s));
            TRY(kvvec_add(&c->item_kvs, s));
            break;
        case 4:
            TRY(field_varint(&r, wt, &raw));
            dropped = (uint32_t)raw;
            break;
        default: TRY(rd_skip(&r, wt));
        }
    }
    if (time > INT64_MAX) return BAIL;
    PUT_SCALAR(&c->event_time, int64_t, (int64_t)time);
    TRY(strcol_push(&c->event_name, name.p, name.n));
    TRY(put_attributes(&c->event_attributes, &c->item_kvs));
    PUT_SCALAR(&c->event_dropped, uint32_t, dropped);
    c->events++;
    return 0;
}

static int put_link(ctx_t *c, slice_t msg) {
    slice_t trace_id = {NULL, 0}, span_id = {NULL, 0}, state = {NULL, 0};
    uint32_t dropped = 0, flags = 0;
    uint64_t raw;
    c->item_kvs.n = 0;
    rd_t r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        slice_t s;
        TRY(rd_tag(&r, &field, &wt));
        switch (field) {
        case 1:
        case 2:
            TRY(field_len(&r, wt, field == 1 ? &trace_id : &span_id));
            break;
        case 3:
            TRY(field_string(&r, wt, &state));
            break;
        case 4:
            TRY(field_len(&r, wt, &s));
            TRY(kvvec_add(&c->item_kvs, s));
            break;
        case 5:
            TRY(field_varint(&r, wt, &raw));
            dropped = (uint32_t)raw;
            break;
        case 6:
            TRY(field_fixed32(&r, wt, &flags));
            break;
        default: TRY(rd_skip(&r, wt));
        }
    }
    TRY(put_hex(&c->link_trace_id, trace_id));
    TRY(put_hex(&c->link_span_id, span_id));
    TRY(strcol_push(&c->link_trace_state, state.p, state.n));
    TRY(put_attributes(&c->link_attributes, &c->item_kvs));
    PUT_SCALAR(&c->link_dropped, uint32_t, dropped);
    PUT_SCALAR(&c->link_flags, uint32_t, flags);
    c->links++;
    return 0;
}

static int put_promoted(ctx_t *c) {
    for (int col = 0; col < SPAN_KEYS.n_columns; col++) {
        if (SPAN_KEYS.integer[col]) {
            int set = c->promo.kind[col] == 2;
            TRY(intcol_push(&c->promo_int[col], set, set ? c->promo.number[col] : 0));
        } else if (c->promo.kind[col] == 1) {
            TRY(strcol_push(&c->promo_text[col], c->promo.text[col].p, c->promo.text[col].n));
        } else {
            TRY(strcol_null(&c->promo_text[col]));
        }
    }
    return 0;
}

static const char *const SPAN_KINDS[] = {"Unspecified", "Internal", "Server", "Client", "Producer", "Consumer"};
static const char *const STATUS_CODES[] = {"Unset", "Ok", "Error"};

/* An enum as its name; values the schema does not know read as the first. */
static int put_name(strcol_t *c, const char *const *names, int32_t code, int count) {
    const char *name = names[code >= 0 && code < count ? code : 0];
    return strcol_push(c, name, strlen(name));
}

/* One Span message: parse it whole, check its ids, then append every column. */
static int put_span(void *ctx, slice_t msg) {
    ctx_t *c = ctx;
    slicevec_t *events = &c->span_events, *links = &c->span_links;
    span_t s;
    memset(&s, 0, sizeof s);
    events->n = links->n = 0;
    c->span_kvs.n = 0;
    rd_t r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        uint64_t raw;
        slice_t sub;
        TRY(rd_tag(&r, &field, &wt));
        switch (field) {
        case 1: case 2: case 4:
            TRY(field_len(&r, wt, field == 1 ? &s.trace_id : field == 2 ? &s.span_id : &s.parent_id));
            break;
        case 3:
            TRY(field_string(&r, wt, &s.trace_state));
            break;
        case 5:
            TRY(field_string(&r, wt, &s.name));
            break;
        case 6:
            TRY(field_varint(&r, wt, &raw));
            s.kind = (int32_t)(uint32_t)raw;
            break;
        case 7: case 8:
            TRY(field_fixed64(&r, wt, field == 7 ? &s.start : &s.end));
            break;
        case 9: case 11: case 13:
            TRY(field_len(&r, wt, &sub));
            if (field == 9) TRY(kvvec_add(&c->span_kvs, sub));
            else TRY(slicevec_add(field == 11 ? events : links, sub));
            break;
        case 10: case 12: case 14:
            TRY(field_varint(&r, wt, &raw));
            *(field == 10 ? &s.dropped_attrs : field == 12 ? &s.dropped_events : &s.dropped_links) = (uint32_t)raw;
            break;
        case 15:
            if (wt != 2 || s.has_status++) return BAIL; /* a repeated message field merges */
            TRY(rd_len(&r, &sub));
            TRY(parse_status(sub, &s));
            break;
        case 16:
            TRY(field_fixed32(&r, wt, &s.flags));
            break;
        default: TRY(rd_skip(&r, wt));
        }
    }
    /* A span with an invalid id is rejected, and the rest of the request kept, by the
     * reference decoder, which also still checks the rejected span's wire format and
     * UTF-8: such requests are rare, so they go there whole. */
    int valid = valid_id(s.trace_id, 16) && valid_id(s.span_id, 8) && (s.parent_id.n == 0 || s.parent_id.n == 8);
    for (size_t i = 0; valid && i < links->n; i++) TRY(link_ids_valid(links->items[i], &valid));
    if (!valid) return BAIL;
    if (s.start > INT64_MAX || s.end > INT64_MAX) return BAIL;
    PUT_SCALAR(&c->timestamp, int64_t, (int64_t)s.start);
    PUT_SCALAR(&c->duration, int64_t, (int64_t)s.end - (int64_t)s.start);
    TRY(put_hex(&c->trace_id, s.trace_id));
    TRY(put_hex(&c->span_id, s.span_id));
    TRY(put_hex(&c->parent_id, s.parent_id));
    TRY(strcol_push(&c->trace_state, s.trace_state.p, s.trace_state.n));
    PUT_SCALAR(&c->flags, uint32_t, s.flags);
    TRY(strcol_push(&c->name, s.name.p, s.name.n));
    TRY(put_name(&c->kind, SPAN_KINDS, s.kind, 6));
    TRY(put_attributes(&c->attributes, &c->span_kvs));
    TRY(put_name(&c->status, STATUS_CODES, s.status_code, 3));
    TRY(strcol_push(&c->status_message, s.status_message.p, s.status_message.n));
    for (size_t i = 0; i < events->n; i++) TRY(put_event(c, events->items[i]));
    if (c->events > INT32_MAX) return BAIL;
    PUT_SCALAR(&c->event_offsets, int32_t, (int32_t)c->events);
    for (size_t i = 0; i < links->n; i++) TRY(put_link(c, links->items[i]));
    if (c->links > INT32_MAX) return BAIL;
    PUT_SCALAR(&c->link_offsets, int32_t, (int32_t)c->links);
    PUT_SCALAR(&c->dropped_attrs, uint32_t, s.dropped_attrs);
    PUT_SCALAR(&c->dropped_events, uint32_t, s.dropped_events);
    PUT_SCALAR(&c->dropped_links, uint32_t, s.dropped_links);
    TRY(promote(&SPAN_KEYS, &c->span_kvs, &c->promo));
    TRY(put_promoted(c));
    c->spans++;
    return 0;
}

/* ------------------------------------------------------------------ resources and scopes */

static int collect_kvs(slice_t msg, uint32_t attributes_field, kvvec_t *kvs, uint32_t *dropped,
                       uint32_t dropped_field) {
    kvs->n = 0;
    rd_t r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        uint64_t raw;
        slice_t s;
        TRY(rd_tag(&r, &field, &wt));
        if (field == attributes_field) {
            TRY(field_len(&r, wt, &s));
            TRY(kvvec_add(kvs, s));
        } else if (field == dropped_field && dropped) {
            TRY(field_varint(&r, wt, &raw));
            *dropped = (uint32_t)raw;
        } else {
            TRY(rd_skip(&r, wt));
        }
    }
    return 0;
}

/* Resource.entity_refs are not stored, but protobuf checks their strings' UTF-8. */
static int check_entity_refs(slice_t resource) {
    rd_t r = {resource.p, resource.p + resource.n};
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        slice_t ref;
        TRY(rd_tag(&r, &field, &wt));
        if (field != 3 || wt != 2) {
            TRY(rd_skip(&r, wt));
            continue;
        }
        TRY(rd_len(&r, &ref));
        rd_t rr = {ref.p, ref.p + ref.n};
        while (rr.p < rr.end) {
            slice_t text;
            TRY(rd_tag(&rr, &field, &wt));
            if (field >= 1 && field <= 4 && wt == 2) TRY(rd_string(&rr, &text));
            else TRY(rd_skip(&rr, wt));
        }
    }
    return 0;
}

static int add_resource(resources_t *rs, slice_t msg, slice_t schema_url) {
    resource_t res;
    memset(&res, 0, sizeof res);
    res.schema_url = schema_url;
    TRY(check_entity_refs(msg));
    TRY(collect_kvs(msg, 1, &rs->kvs, &res.dropped, 2));
    res.json_off = rs->text.len;
    TRY(put_map(&rs->text, &rs->kvs, 0, 0));
    res.json_len = rs->text.len - res.json_off;
    for (size_t i = 0; i < rs->kvs.n; i++) {
        const kv_t *kv = &rs->kvs.items[i];
        if (kv->key.n == 12 && memcmp(kv->key.p, "service.name", 12) == 0) {
            anyval_t v;
            TRY(parse_anyvalue(kv->value, &v));
            if (v.type == V_STRING && v.s.n) {
                res.service = v.s;
                res.has_service = 1;
            }
        }
    }
    TRY(promote(&RESOURCE_KEYS, &rs->kvs, &rs->promo));
    for (int col = 0; col < RESOURCE_KEYS.n_columns; col++) {
        res.promo_off[col] = -1;
        if (rs->promo.kind[col] == 1) {
            res.promo_off[col] = (long long)rs->text.len;
            res.promo_len[col] = rs->promo.text[col].n;
            TRY(buf_put(&rs->text, rs->promo.text[col].p, rs->promo.text[col].n));
        } else if (rs->promo.kind[col] == 2) {
            char text[32];
            res.promo_off[col] = (long long)rs->text.len;
            res.promo_len[col] = (size_t)format_int(rs->promo.number[col], text);
            TRY(buf_put(&rs->text, text, res.promo_len[col]));
        }
    }
    TRY(buf_put(&rs->resources, &res, sizeof res));
    rs->n_resources++;
    return 0;
}

/* One item message (a Span, a LogRecord) appended to the columns of ctx. */
typedef int (*put_item_t)(void *ctx, slice_t msg);

/* ScopeSpans and ScopeLogs have the same fields: 1 the scope, 2 the repeated items, 3 the
 * schema URL. */
static int add_scope_items(resources_t *rs, slice_t msg, put_item_t put_item, void *ctx) {
    block_t block;
    memset(&block, 0, sizeof block);
    block.resource = rs->n_resources - 1;
    slice_t scope = {NULL, 0};
    int has_scope = 0;
    rd_t r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        slice_t s;
        TRY(rd_tag(&r, &field, &wt));
        if (field == 1) {
            if (wt != 2 || has_scope++) return BAIL;
            TRY(rd_len(&r, &scope));
        } else if (field == 2) {
            TRY(field_len(&r, wt, &s));
            TRY(put_item(ctx, s));
            block.count++;
        } else if (field == 3) {
            TRY(field_string(&r, wt, &block.schema_url));
        } else {
            TRY(rd_skip(&r, wt));
        }
    }
    rs->kvs.n = 0; /* the scope is checked even when it has no items, as protobuf does */
    rd_t sr = {scope.p, scope.p + scope.n};
    while (sr.p < sr.end) {
        uint32_t field;
        int wt;
        slice_t s;
        TRY(rd_tag(&sr, &field, &wt));
        if (field == 1 || field == 2) {
            TRY(field_string(&sr, wt, field == 1 ? &block.name : &block.version));
        } else if (field == 3) {
            TRY(field_len(&sr, wt, &s));
            TRY(kvvec_add(&rs->kvs, s));
        } else {
            TRY(rd_skip(&sr, wt));
        }
    }
    block.attrs_off = rs->text.len;
    TRY(put_map(&rs->text, &rs->kvs, 0, 0));
    block.attrs_len = rs->text.len - block.attrs_off;
    if (!block.count) {
        rs->text.len = block.attrs_off;
        return 0;
    }
    TRY(buf_put(&rs->blocks, &block, sizeof block));
    rs->n_blocks++;
    return 0;
}

/* ResourceSpans and ResourceLogs alike: 1 the resource, 2 the repeated scopes, 3 the
 * schema URL (which may follow the scopes, so they are read after it). */
static int add_resource_items(resources_t *rs, slice_t msg, slicevec_t *scopes, put_item_t put_item, void *ctx) {
    slice_t resource = {NULL, 0}, schema_url = {NULL, 0};
    int has_resource = 0;
    scopes->n = 0;
    rd_t r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        slice_t s;
        TRY(rd_tag(&r, &field, &wt));
        if (field == 1) {
            if (wt != 2 || has_resource++) return BAIL;
            TRY(rd_len(&r, &resource));
        } else if (field == 2) {
            TRY(field_len(&r, wt, &s));
            TRY(slicevec_add(scopes, s));
        } else if (field == 3) {
            TRY(field_string(&r, wt, &schema_url));
        } else {
            TRY(rd_skip(&r, wt));
        }
    }
    TRY(add_resource(rs, resource, schema_url));
    for (size_t i = 0; i < scopes->n; i++) TRY(add_scope_items(rs, scopes->items[i], put_item, ctx));
    return 0;
}

/* An Export{Trace,Logs}ServiceRequest: field 1 repeats the resources. */
static int decode_export(resources_t *rs, const uint8_t *data, size_t n, put_item_t put_item, void *ctx) {
    slicevec_t scopes = {0};
    rd_t r = {data, data + n};
    int rc = 0;
    while (!rc && r.p < r.end) {
        uint32_t field;
        int wt;
        slice_t s;
        if ((rc = rd_tag(&r, &field, &wt))) break;
        if (field == 1) {
            if (wt != 2) rc = BAIL;
            else if (!(rc = rd_len(&r, &s))) rc = add_resource_items(rs, s, &scopes, put_item, ctx);
        } else {
            rc = rd_skip(&r, wt);
        }
    }
    free(scopes.items);
    return rc;
}

static int decode_spans(void *ctx, const uint8_t *data, size_t n) {
    ctx_t *c = ctx;
    return decode_export(&c->rs, data, n, put_span, c);
}

/* ------------------------------------------------------------------ log records */

/* The columns of otel_logs. A record's resource and scope columns are filled once the
 * whole request is read (a scope may follow its records on the wire): each block's
 * values repeated over its records, which are cheaper copied here than taken in Arrow. */
#define LOG_SHARED 7
typedef struct {
    size_t records;
    intcol_t timestamp, observed; /* null for 0, as the reference stores "unset" */
    buf_t flags, severity_number, dropped_attrs;
    strcol_t trace_id, span_id, severity_text, body, event_name, attributes;
    /* service_name (null without one: the Python side names the default), resource
     * attributes and schema URL, scope name, version, attributes and schema URL */
    strcol_t shared[LOG_SHARED];
    resources_t rs;
    kvvec_t kvs;
} logctx_t;

static void logctx_free(void *ctx) {
    logctx_t *c = ctx;
    free(c->timestamp.values.data);
    free(c->timestamp.validity.data);
    free(c->observed.values.data);
    free(c->observed.validity.data);
    free(c->flags.data);
    free(c->severity_number.data);
    free(c->dropped_attrs.data);
    strcol_t *cols[] = {&c->trace_id, &c->span_id, &c->severity_text, &c->body, &c->event_name, &c->attributes};
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++) strcol_free(cols[i]);
    for (int i = 0; i < LOG_SHARED; i++) strcol_free(&c->shared[i]);
    resources_free(&c->rs);
    kvvec_free(&c->kvs);
}

static int logctx_init(void *ctx) {
    logctx_t *c = ctx;
    memset(c, 0, sizeof *c);
    resources_init(&c->rs);
    kvvec_init(&c->kvs);
    strcol_t *cols[] = {&c->trace_id, &c->span_id, &c->severity_text, &c->body, &c->event_name, &c->attributes};
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++) TRY(strcol_init(cols[i]));
    for (int i = 0; i < LOG_SHARED; i++) TRY(strcol_init(&c->shared[i]));
    return 0;
}

/* One LogRecord (opentelemetry/proto/logs/v1/logs.proto): parse it whole, check its ids,
 * then append every column. */
static int put_record(void *ctx, slice_t msg) {
    logctx_t *c = ctx;
    slice_t trace_id = {NULL, 0}, span_id = {NULL, 0}, severity_text = {NULL, 0}, event_name = {NULL, 0};
    slice_t body = {NULL, 0};
    int has_body = 0;
    uint64_t time = 0, observed = 0, raw;
    uint32_t flags = 0, dropped = 0;
    int32_t severity = 0;
    c->kvs.n = 0;
    rd_t r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wt;
        slice_t s;
        TRY(rd_tag(&r, &field, &wt));
        switch (field) {
        case 1: case 11:
            TRY(field_fixed64(&r, wt, field == 1 ? &time : &observed));
            break;
        case 2:
            TRY(field_varint(&r, wt, &raw));
            severity = (int32_t)(uint32_t)raw; /* an enum: protobuf keeps the low 32 bits */
            break;
        case 3: case 12:
            TRY(field_string(&r, wt, field == 3 ? &severity_text : &event_name));
            break;
        case 5:
            if (wt != 2 || has_body++) return BAIL; /* a repeated message field merges */
            TRY(rd_len(&r, &body));
            break;
        case 6:
            TRY(field_len(&r, wt, &s));
            TRY(kvvec_add(&c->kvs, s));
            break;
        case 7:
            TRY(field_varint(&r, wt, &raw));
            dropped = (uint32_t)raw;
            break;
        case 8:
            TRY(field_fixed32(&r, wt, &flags));
            break;
        case 9: case 10:
            TRY(field_len(&r, wt, field == 9 ? &trace_id : &span_id));
            break;
        default: TRY(rd_skip(&r, wt));
        }
    }
    /* Records with ids of the wrong length are rejected (and the rest kept) by the
     * reference decoder; all-zero ids are stored as sent. Such requests go there whole. */
    if ((trace_id.n && trace_id.n != 16) || (span_id.n && span_id.n != 8)) return BAIL;
    if (time > INT64_MAX || observed > INT64_MAX) return BAIL;
    TRY(intcol_push(&c->timestamp, time != 0, (int64_t)time));
    TRY(intcol_push(&c->observed, observed != 0, (int64_t)observed));
    TRY(put_hex(&c->trace_id, trace_id));
    TRY(put_hex(&c->span_id, span_id));
    PUT_SCALAR(&c->flags, uint32_t, flags);
    TRY(strcol_push(&c->severity_text, severity_text.p, severity_text.n));
    PUT_SCALAR(&c->severity_number, int32_t, severity);
    if (has_body) { /* an empty AnyValue is JSON null; no body at all is a null column */
        TRY(put_value(&c->body.data, body, 0));
        TRY(strcol_end_value(&c->body, 1));
    } else {
        TRY(strcol_null(&c->body));
    }
    TRY(strcol_push(&c->event_name, event_name.p, event_name.n));
    TRY(put_attributes(&c->attributes, &c->kvs));
    PUT_SCALAR(&c->dropped_attrs, uint32_t, dropped);
    c->records++;
    return 0;
}

/* count copies of one value (valid) or count nulls, with the buffers grown once */
static int strcol_repeat(strcol_t *c, slice_t v, size_t count, int valid) {
    size_t n = valid ? v.n : 0;
    if (c->data.len > INT32_MAX || (n && count > ((size_t)INT32_MAX - c->data.len) / n)) return BAIL; /* int32 offsets */
    TRY(buf_reserve(&c->data, n * count));
    TRY(buf_reserve(&c->offsets, sizeof(int32_t) * count));
    for (size_t i = 0; i < count; i++) {
        if (n) memcpy(c->data.data + c->data.len, v.p, n);
        c->data.len += n;
        TRY(strcol_end_value(c, valid));
    }
    return 0;
}

/* Each block's resource and scope values, once per record of the block (blocks are in
 * record order). */
static int put_shared_columns(logctx_t *c) {
    const resource_t *resources = (const resource_t *)c->rs.resources.data;
    const block_t *blocks = (const block_t *)c->rs.blocks.data;
    const char *text = c->rs.text.data;
    for (size_t b = 0; b < c->rs.n_blocks; b++) {
        const block_t *block = &blocks[b];
        const resource_t *res = &resources[block->resource];
        const slice_t values[LOG_SHARED] = {
            res->service,
            {(const uint8_t *)text + res->json_off, res->json_len},
            res->schema_url,
            block->name,
            block->version,
            {(const uint8_t *)text + block->attrs_off, block->attrs_len},
            block->schema_url,
        };
        for (int col = 0; col < LOG_SHARED; col++)
            TRY(strcol_repeat(&c->shared[col], values[col], block->count, col > 0 || res->has_service));
    }
    return 0;
}

static int decode_records(void *ctx, const uint8_t *data, size_t n) {
    logctx_t *c = ctx;
    TRY(decode_export(&c->rs, data, n, put_record, c));
    return put_shared_columns(c);
}

/* ------------------------------------------------------------------ results as Python objects */

/* A column buffer handed to Python without a copy: it owns the malloc'd memory, frees
 * it when the last Arrow array over it goes, and exposes it read-only. */
typedef struct {
    PyObject_HEAD
    char *data;
    Py_ssize_t len;
} owned_t;

static void owned_dealloc(PyObject *self) {
    free(((owned_t *)self)->data);
    Py_TYPE(self)->tp_free(self);
}

static int owned_getbuffer(PyObject *self, Py_buffer *view, int flags) {
    static char empty[1];
    owned_t *o = (owned_t *)self;
    return PyBuffer_FillInfo(view, self, o->data ? o->data : empty, o->len, 1, flags);
}

static Py_ssize_t owned_length(PyObject *self) { return ((owned_t *)self)->len; }

static PyBufferProcs OWNED_BUFFER = {owned_getbuffer, NULL};
static PySequenceMethods OWNED_SEQUENCE = {.sq_length = owned_length};

static PyTypeObject OwnedType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_spanwire.Buffer",
    .tp_doc = "A decoded column's bytes (read-only buffer).",
    .tp_basicsize = sizeof(owned_t),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = owned_dealloc,
    .tp_as_buffer = &OWNED_BUFFER,
    .tp_as_sequence = &OWNED_SEQUENCE,
};

/* The buffer as a Python object that takes over its memory (b is left empty). */
static PyObject *take_buffer(buf_t *b) {
    owned_t *o = PyObject_New(owned_t, &OwnedType);
    if (!o) return NULL;
    if (b->data && b->cap > b->len + 4096) {  /* give back the growth slack */
        char *shrunk = realloc(b->data, b->len ? b->len : 1);
        if (shrunk) b->data = shrunk;
    }
    o->data = b->data;
    o->len = (Py_ssize_t)b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return (PyObject *)o;
}

static PyObject *strcol_tuple(strcol_t *c) {
    PyObject *validity = c->nulls ? take_buffer(&c->validity) : (Py_INCREF(Py_None), Py_None);
    if (!validity) return NULL;
    return Py_BuildValue("(NNN)", validity, take_buffer(&c->offsets), take_buffer(&c->data));
}

static PyObject *intcol_tuple(intcol_t *c) {
    PyObject *validity = c->nulls ? take_buffer(&c->validity) : (Py_INCREF(Py_None), Py_None);
    if (!validity) return NULL;
    return Py_BuildValue("(NN)", validity, take_buffer(&c->values));
}

static PyObject *text_or_none(const char *base, long long off, size_t len) {
    if (off < 0) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(base + off, (Py_ssize_t)len, "strict");
}

static PyObject *slice_text(slice_t s) { return PyUnicode_DecodeUTF8(s.p ? (const char *)s.p : "", (Py_ssize_t)s.n, "strict"); }

static PyObject *resources_list(const resources_t *c) {
    PyObject *out = PyList_New((Py_ssize_t)c->n_resources);
    if (!out) return NULL;
    const resource_t *all = (const resource_t *)c->resources.data;
    for (size_t i = 0; i < c->n_resources; i++) {
        const resource_t *res = &all[i];
        PyObject *promoted = PyList_New(RESOURCE_KEYS.n_columns);
        if (!promoted) goto fail;
        for (int col = 0; col < RESOURCE_KEYS.n_columns; col++) {
            PyObject *value = text_or_none(c->text.data, res->promo_off[col], res->promo_len[col]);
            if (!value) {
                Py_DECREF(promoted);
                goto fail;
            }
            PyList_SET_ITEM(promoted, col, value);
        }
        PyObject *service = res->has_service ? slice_text(res->service) : (Py_INCREF(Py_None), Py_None);
        PyObject *item = Py_BuildValue("(NNNkN)", service,
                                       PyUnicode_DecodeUTF8(c->text.data + res->json_off,
                                                            (Py_ssize_t)res->json_len, "strict"),
                                       slice_text(res->schema_url), (unsigned long)res->dropped, promoted);
        if (!item) goto fail;
        PyList_SET_ITEM(out, (Py_ssize_t)i, item);
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static PyObject *blocks_list(const resources_t *c) {
    PyObject *out = PyList_New((Py_ssize_t)c->n_blocks);
    if (!out) return NULL;
    const block_t *all = (const block_t *)c->blocks.data;
    for (size_t i = 0; i < c->n_blocks; i++) {
        const block_t *b = &all[i];
        PyObject *item = Py_BuildValue(
            "(nNNNNn)", (Py_ssize_t)b->resource, slice_text(b->name), slice_text(b->version),
            PyUnicode_DecodeUTF8(c->text.data + b->attrs_off, (Py_ssize_t)b->attrs_len, "strict"),
            slice_text(b->schema_url), (Py_ssize_t)b->count);
        if (!item) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, item);
    }
    return out;
}

static PyObject *promoted_list(ctx_t *c) {
    PyObject *out = PyList_New(SPAN_KEYS.n_columns);
    if (!out) return NULL;
    for (int col = 0; col < SPAN_KEYS.n_columns; col++) {
        PyObject *item = SPAN_KEYS.integer[col] ? intcol_tuple(&c->promo_int[col]) : strcol_tuple(&c->promo_text[col]);
        if (!item) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, col, item);
    }
    return out;
}

static PyObject *span_result(void *ctx) {
    ctx_t *c = ctx;
    return Py_BuildValue(
        "{s:n,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,"
        "s:(NNNNN),s:(NNNNNNN),s:N}",
        "spans", (Py_ssize_t)c->spans,
        "timestamp", take_buffer(&c->timestamp),
        "duration", take_buffer(&c->duration),
        "flags", take_buffer(&c->flags),
        "dropped_attributes_count", take_buffer(&c->dropped_attrs),
        "dropped_events_count", take_buffer(&c->dropped_events),
        "dropped_links_count", take_buffer(&c->dropped_links),
        "span_kind", strcol_tuple(&c->kind),
        "status_code", strcol_tuple(&c->status),
        "trace_id", strcol_tuple(&c->trace_id),
        "span_id", strcol_tuple(&c->span_id),
        "parent_span_id", strcol_tuple(&c->parent_id),
        "trace_state", strcol_tuple(&c->trace_state),
        "span_name", strcol_tuple(&c->name),
        "status_message", strcol_tuple(&c->status_message),
        "span_attributes", strcol_tuple(&c->attributes),
        "resources", resources_list(&c->rs),
        "blocks", blocks_list(&c->rs),
        "events", take_buffer(&c->event_offsets), take_buffer(&c->event_time), strcol_tuple(&c->event_name),
        strcol_tuple(&c->event_attributes), take_buffer(&c->event_dropped),
        "links", take_buffer(&c->link_offsets), strcol_tuple(&c->link_trace_id), strcol_tuple(&c->link_span_id),
        strcol_tuple(&c->link_trace_state), strcol_tuple(&c->link_attributes), take_buffer(&c->link_dropped),
        take_buffer(&c->link_flags),
        "promoted", promoted_list(c));
}

static PyObject *log_result(void *ctx) {
    logctx_t *c = ctx;
    return Py_BuildValue(
        "{s:n,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:(NNNNNNN)}",
        "records", (Py_ssize_t)c->records,
        "timestamp", intcol_tuple(&c->timestamp),
        "observed_timestamp", intcol_tuple(&c->observed),
        "trace_id", strcol_tuple(&c->trace_id),
        "span_id", strcol_tuple(&c->span_id),
        "flags", take_buffer(&c->flags),
        "severity_text", strcol_tuple(&c->severity_text),
        "severity_number", take_buffer(&c->severity_number),
        "body", strcol_tuple(&c->body),
        "event_name", strcol_tuple(&c->event_name),
        "log_attributes", strcol_tuple(&c->attributes),
        "dropped_attributes_count", take_buffer(&c->dropped_attrs),
        "shared", strcol_tuple(&c->shared[0]), strcol_tuple(&c->shared[1]), strcol_tuple(&c->shared[2]),
        strcol_tuple(&c->shared[3]), strcol_tuple(&c->shared[4]), strcol_tuple(&c->shared[5]),
        strcol_tuple(&c->shared[6]));
}

/* ------------------------------------------------------------------ module */

/* Decodes read the promotion tables without the GIL, so they are filled once, before
   the first decode, and never changed after. */
static int CONFIGURED = 0;

static PyObject *py_configure(PyObject *self, PyObject *args) {
    PyObject *span_spec, *resource_spec;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO", &span_spec, &resource_spec)) return NULL;
    if (CONFIGURED) {
        PyErr_SetString(PyExc_RuntimeError, "configure() runs once: decodes read its tables without the GIL");
        return NULL;
    }
    if (load_keys(span_spec, &SPAN_KEYS) || load_keys(resource_spec, &RESOURCE_KEYS)) return NULL;
    CONFIGURED = 1;
    Py_RETURN_NONE;
}

/* One decoder: its state's size and lifecycle, the request walk (run without the GIL),
 * and the columns as Python objects. */
typedef struct {
    const char *name;
    size_t size;
    int (*init)(void *ctx);
    int (*decode)(void *ctx, const uint8_t *data, size_t n);
    PyObject *(*result)(void *ctx);
    void (*free)(void *ctx);
} decoder_t;

static const decoder_t SPAN_DECODER = {"decode", sizeof(ctx_t), ctx_init, decode_spans, span_result, ctx_free};
static const decoder_t LOG_DECODER = {"decode_logs", sizeof(logctx_t), logctx_init, decode_records, log_result,
                                      logctx_free};

static PyObject *run_decoder(const decoder_t *d, PyObject *arg) {
    Py_buffer view;
    if (!CONFIGURED) {
        PyErr_Format(PyExc_RuntimeError, "%s() before configure()", d->name);
        return NULL;
    }
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE)) return NULL;
    void *c = malloc(d->size);
    if (!c) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    int rc = d->init(c); /* on failure, what it allocated is freed below */
    if (!rc) {
        Py_BEGIN_ALLOW_THREADS
        rc = d->decode(c, (const uint8_t *)view.buf, (size_t)view.len);
        Py_END_ALLOW_THREADS
    }
    PyObject *result = NULL;
    if (rc == NOMEM) {
        PyErr_NoMemory();
    } else if (rc) {
        result = Py_None;
        Py_INCREF(result);
    } else {
        result = d->result(c);
    }
    d->free(c);
    free(c);
    PyBuffer_Release(&view);
    return result;
}

static PyObject *py_decode(PyObject *self, PyObject *arg) {
    (void)self;
    return run_decoder(&SPAN_DECODER, arg);
}

static PyObject *py_decode_logs(PyObject *self, PyObject *arg) {
    (void)self;
    return run_decoder(&LOG_DECODER, arg);
}

static PyMethodDef METHODS[] = {
    {"configure", py_configure, METH_VARARGS,
     "configure(span_keys, resource_keys): the promoted columns, as (key, column, rank, integer) tuples; once."},
    {"decode", py_decode, METH_O,
     "decode(body) -> dict of column buffers, or None when the reference decoder must take the request."},
    {"decode_logs", py_decode_logs, METH_O,
     "decode_logs(body) -> dict of otel_logs column buffers, or None when the reference decoder must take it."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_spanwire", "OTLP trace and log request bytes -> column buffers.",
                                    -1, METHODS, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__spanwire(void) {
    init_escape_table();
    if (PyType_Ready(&OwnedType) < 0) return NULL;
    return PyModule_Create(&MODULE);
}
