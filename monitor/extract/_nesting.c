/* monitor.extract._nesting: the nesting scan of monitor/extract/nesting.py in C.
 *
 * scan(data: bytes, max_depth: int) -> (peak: int, spans: list[tuple[int, int]])
 *
 * Same tokenizer and per-name model as nesting.python_scan (that file documents the
 * rules; tests check that both agree). Every read is bounds-checked against n; names
 * live in an open-addressing table that, once full, counts new names as elements
 * that never close (an over-estimate, never an under-estimate).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define SLOTS 4096 /* power of two */
#define MAX_USED (SLOTS / 2)

enum { FLAT_K = 1, RAW_K = 2, IP_K = 4, AMBIG_K = 8, FOREIGN_K = 16, PLAIN_K = 32,
       SCRIPT_K = 64, LI_K = 128, DD_K = 256 /* list items, by the family they close */ };
#define SINCE_LIMIT 32
#define FLAT_LONGEST 8 /* "basefont", "colgroup" */

typedef struct {
    const unsigned char *name; /* into the scanned buffer or a literal (NULL: free) */
    Py_ssize_t len;
    Py_ssize_t open;
    Py_ssize_t dropped;
    int kind; /* the *_K flags of the name */
} Slot;

typedef struct {
    const unsigned char *d;
    Py_ssize_t n;
    Py_ssize_t max;
    Py_ssize_t depth;
    Py_ssize_t peak;
    Py_ssize_t used;
    Py_ssize_t overflow_open; /* elements of names the full table could not hold */
    Py_ssize_t ambiguous;     /* open svg, math, select, frameset */
    Py_ssize_t integration;   /* open HTML integration points */
    int distrust;
    Py_ssize_t name_end; /* in distrust: the first name delimiter after the last tag */
    /* the last list item opened, and the elements opened since and still open, in
       order; since_len < 0 once an end tag closed something out of order */
    Slot *item;
    Slot *since[SINCE_LIMIT];
    int since_len;
    Slot *slots;
    PyObject *spans;
    int failed;
} Scan;

static const char *FLAT[] = {
    "area", "base", "br", "col", "colgroup", "embed", "hr", "img", "input", "link",
    "meta", "param", "source", "track", "wbr", "p", "option", "tr",
    "td", "th", "tbody", "thead", "tfoot", "caption", "html", "head", "body", "frame",
    "keygen", "basefont", "bgsound", NULL};
static const char *RAW[] = {"script", "style", "xmp", "iframe", "noembed", "noframes",
                            "title", "textarea", NULL};
static const char *INTEGRATION[] = {"foreignobject", "desc", "title", "annotation-xml",
                                    "mi", "mo", "mn", "ms", "mtext", NULL};
static const char *AMBIGUOUS[] = {"svg", "math", "select", "frameset", NULL};

static inline int is_ws(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}
static inline int is_alpha(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline unsigned char lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}
static inline int is_name_end(unsigned char c) { return is_ws(c) || c == '/' || c == '>'; }

/* a name (len bytes, any case) equals the lowercase C string word */
static int name_is(const unsigned char *s, Py_ssize_t len, const char *word) {
    Py_ssize_t k = 0;
    for (; k < len; k++) {
        if (word[k] == '\0' || lower(s[k]) != (unsigned char)word[k]) return 0;
    }
    return word[k] == '\0';
}
static int same_name(const unsigned char *a, Py_ssize_t alen, const unsigned char *b,
                     Py_ssize_t blen) {
    if (alen != blen) return 0;
    for (Py_ssize_t k = 0; k < alen; k++) {
        if (lower(a[k]) != lower(b[k])) return 0;
    }
    return 1;
}

/* the slot of a name; create it when asked and there is room, else NULL */
static Slot *slot_of(Scan *s, const unsigned char *name, Py_ssize_t len, int create) {
    uint32_t h = 2166136261u;
    for (Py_ssize_t k = 0; k < len; k++) h = (h ^ lower(name[k])) * 16777619u;
    for (uint32_t probe = 0; probe < SLOTS; probe++) {
        Slot *slot = &s->slots[(h + probe) & (SLOTS - 1)];
        if (slot->name == NULL) {
            if (!create || s->used >= MAX_USED) return NULL;
            slot->name = name;
            slot->len = len;
            s->used++;
            return slot;
        }
        if (same_name(slot->name, slot->len, name, len)) return slot;
    }
    return NULL;
}
/* put the names with a role in the table, so that a full table never hides one */
static int seed(Scan *s) {
    static const struct { const char **words; int kind; } roles[] = {
        {FLAT, FLAT_K}, {RAW, RAW_K}, {INTEGRATION, IP_K}, {AMBIGUOUS, AMBIG_K}};
    for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++) {
        for (const char **w = roles[r].words; *w; w++) {
            Slot *slot = slot_of(s, (const unsigned char *)*w, (Py_ssize_t)strlen(*w), 1);
            if (slot == NULL) return -1;
            slot->kind |= roles[r].kind;
        }
    }
    const char *extra[] = {"svg", "math", "plaintext", "script", "li", "dd", "dt"};
    const int kinds[] = {FOREIGN_K, FOREIGN_K, PLAIN_K, SCRIPT_K, LI_K, DD_K, DD_K};
    for (int k = 0; k < 7; k++) {
        Slot *slot = slot_of(s, (const unsigned char *)extra[k], (Py_ssize_t)strlen(extra[k]), 1);
        if (slot == NULL) return -1;
        slot->kind |= kinds[k];
    }
    return 0;
}

static void add_span(Scan *s, Py_ssize_t start, Py_ssize_t end) {
    if (s->failed) return;
    PyObject *span = Py_BuildValue("(nn)", start, end);
    if (span == NULL || PyList_Append(s->spans, span) < 0) s->failed = 1;
    Py_XDECREF(span);
}

static Py_ssize_t find_byte(Scan *s, unsigned char c, Py_ssize_t i, Py_ssize_t stop) {
    if (i >= stop) return -1;
    const unsigned char *p = memchr(s->d + i, c, (size_t)(stop - i));
    return p ? (Py_ssize_t)(p - s->d) : -1;
}
static Py_ssize_t after_byte(Scan *s, unsigned char c, Py_ssize_t i) {
    Py_ssize_t j = find_byte(s, c, i, s->n);
    return j < 0 ? -1 : j + 1;
}

/* from just after a tag name: the index after the tag's '>', -1 at EOF */
static Py_ssize_t tag_end(Scan *s, Py_ssize_t j) {
    const unsigned char *d = s->d;
    Py_ssize_t n = s->n;
    while (j < n) {
        unsigned char c = d[j];
        if (is_ws(c) || c == '/') { j++; continue; }
        if (c == '>') return j + 1;
        j++; /* attribute name: its first character is taken whatever it is */
        while (j < n && !is_ws(d[j]) && d[j] != '/' && d[j] != '>' && d[j] != '=') j++;
        while (j < n && is_ws(d[j])) j++;
        if (j < n && d[j] == '=') {
            j++;
            while (j < n && is_ws(d[j])) j++;
            if (j >= n) return -1;
            unsigned char q = d[j];
            if (q == '"' || q == '\'') {
                Py_ssize_t close = find_byte(s, q, j + 1, n);
                if (close < 0) return -1;
                j = close + 1;
            } else if (q != '>') {
                while (j < n && !is_ws(d[j]) && d[j] != '>') j++;
            }
        }
    }
    return -1;
}

/* the name starting at i: sets *len, returns the index after the tag (-1 at EOF) */
static Py_ssize_t read_tag(Scan *s, Py_ssize_t i, Py_ssize_t *len) {
    Py_ssize_t j = i;
    while (j < s->n && !is_name_end(s->d[j])) j++;
    *len = j - i;
    return tag_end(s, j);
}

static void open_element(Scan *s, Slot *slot, Py_ssize_t start, Py_ssize_t end) {
    int family = slot ? slot->kind & (LI_K | DD_K) : 0;
    if (family && !s->distrust && s->since_len == 0 && s->item &&
        (s->item->kind & family)) {
        /* "<li>a<li>b": the new item closes the open one, so the depth stays */
        s->item->open--;
        slot->open++;
        s->item = slot;
        return;
    }
    if (s->depth >= s->max) {
        if (slot) slot->dropped++;
        add_span(s, start, end);
        return;
    }
    if (slot) {
        slot->open++;
        if (slot->kind & AMBIG_K) s->ambiguous++;
        if (slot->kind & IP_K) s->integration++;
    } else {
        s->overflow_open++;
    }
    s->depth++;
    if (s->depth > s->peak) s->peak = s->depth;
    if (family) {
        s->item = slot;
        s->since_len = 0;
    } else if (s->since_len >= 0) {
        if (s->since_len >= SINCE_LIMIT) s->since_len = -1;
        else s->since[s->since_len++] = slot;
    }
}

static void close_element(Scan *s, Slot *slot, Py_ssize_t start, Py_ssize_t end) {
    if (slot == NULL || slot->kind & FLAT_K) return;
    if (slot->dropped) {
        slot->dropped--;
        add_span(s, start, end);
        return;
    }
    if (!slot->open) return;
    if (slot->kind & FOREIGN_K && s->integration)
        return; /* lexbor ignores it inside an HTML integration point */
    slot->open--;
    if (slot->kind & AMBIG_K) s->ambiguous--;
    if (slot->kind & IP_K) s->integration--;
    s->depth--;
    if (s->since_len > 0 && s->since[s->since_len - 1] == slot) s->since_len--;
    else s->since_len = -1;
}

/* data[i:] is "</word" (any case) followed by whitespace, '/' or '>' */
static int is_end_of(Scan *s, Py_ssize_t i, const char *word) {
    Py_ssize_t len = (Py_ssize_t)strlen(word);
    Py_ssize_t j = i + 2 + len;
    if (j >= s->n) return 0;
    return name_is(s->d + i + 2, len, word) && is_name_end(s->d[j]);
}

static Py_ssize_t raw_end(Scan *s, const unsigned char *name, Py_ssize_t len, Py_ssize_t i) {
    char word[16];
    if (len >= (Py_ssize_t)sizeof word) return -1;
    for (Py_ssize_t k = 0; k < len; k++) word[k] = (char)lower(name[k]);
    word[len] = '\0';
    for (i = find_byte(s, '<', i, s->n); i >= 0; i = find_byte(s, '<', i + 1, s->n)) {
        if (i + 1 < s->n && s->d[i + 1] == '/' && is_end_of(s, i, word)) return i;
    }
    return -1;
}

/* the letters "script" at i followed by a delimiter: index of the delimiter, else -1 */
static Py_ssize_t script_word(Scan *s, Py_ssize_t i, Py_ssize_t *letters_end) {
    Py_ssize_t j = i;
    while (j < s->n && is_alpha(s->d[j])) j++;
    *letters_end = j;
    if (j < s->n && j - i == 6 && name_is(s->d + i, 6, "script") && is_name_end(s->d[j]))
        return j;
    return -1;
}

static Py_ssize_t script_end(Scan *s, Py_ssize_t i) {
    const unsigned char *d = s->d;
    Py_ssize_t n = s->n;
    enum { DATA, ESCAPED, DOUBLE } state = DATA;
    int dashes = 0;
    while (i < n) {
        if (state == DATA) {
            i = find_byte(s, '<', i, n);
            if (i < 0) return -1;
            if (i + 1 < n && d[i + 1] == '/' && is_end_of(s, i, "script")) return i;
            if (i + 3 < n && d[i + 1] == '!' && d[i + 2] == '-' && d[i + 3] == '-') {
                state = ESCAPED;
                dashes = 2;
                i += 4;
                continue;
            }
            i++;
            continue;
        }
        Py_ssize_t k = i;
        while (k < n && d[k] != '<' && d[k] != '>' && d[k] != '-') k++;
        if (k >= n) return -1;
        if (k > i) dashes = 0;
        i = k;
        unsigned char c = d[i];
        if (c == '-') { dashes++; i++; continue; }
        if (c == '>') {
            if (dashes >= 2) state = DATA;
            dashes = 0;
            i++;
            continue;
        }
        dashes = 0; /* '<' */
        Py_ssize_t end, letters_end;
        if (state == ESCAPED) {
            if (i + 1 < n && d[i + 1] == '/') {
                if (is_end_of(s, i, "script")) return i;
                i += 2;
                continue;
            }
            end = script_word(s, i + 1, &letters_end);
            if (end >= 0) { state = DOUBLE; i = end + 1; continue; }
            i = letters_end > i + 1 ? letters_end : i + 1;
            continue;
        }
        if (i + 1 < n && d[i + 1] == '/') {
            end = script_word(s, i + 2, &letters_end);
            if (end >= 0) { state = ESCAPED; i = end + 1; continue; }
            i = letters_end > i + 2 ? letters_end : i + 2;
            continue;
        }
        i++;
    }
    return -1;
}

static Py_ssize_t raw_element(Scan *s, Slot *slot, const unsigned char *name,
                              Py_ssize_t len, Py_ssize_t start, Py_ssize_t end) {
    Py_ssize_t close, after, ignored;
    if (slot->kind & PLAIN_K) close = -1;
    else if (slot->kind & SCRIPT_K) close = script_end(s, end);
    else close = raw_end(s, name, len, end);
    Py_ssize_t stop = close < 0 ? s->n : close;
    if (s->ambiguous && find_byte(s, '<', end, stop) >= 0) {
        s->distrust = 1;
        open_element(s, slot, start, end);
        return end;
    }
    if (s->depth >= s->max) { /* drop the whole element, its text too */
        after = close >= 0 ? read_tag(s, close + 2, &ignored) : -1;
        add_span(s, start, after < 0 ? s->n : after);
        return after;
    }
    open_element(s, slot, start, end);
    if (close < 0) return -1;
    after = read_tag(s, close + 2, &ignored);
    if (after >= 0) close_element(s, slot, close, after);
    return after;
}

/* in distrust, whatever lexbor makes of the rest, a start tag that is not a flat
   element's counts (its name and attributes matter no more); the end of its name is
   found once for a run of tags before the same delimiter, so the scan stays linear */
static Py_ssize_t distrusted_start(Scan *s, Py_ssize_t i) {
    if (s->name_end <= i) {
        Py_ssize_t j = i + 1;
        while (j < s->n && !is_name_end(s->d[j])) j++;
        s->name_end = j;
    }
    Py_ssize_t len = s->name_end - i - 1;
    Slot *slot = len <= FLAT_LONGEST ? slot_of(s, s->d + i + 1, len, 0) : NULL;
    if (slot && slot->kind & FLAT_K) return i + 1;
    if (s->depth >= s->max) {
        add_span(s, i, s->name_end);
    } else {
        s->depth++;
        if (s->depth > s->peak) s->peak = s->depth;
    }
    return i + 1;
}

static Py_ssize_t start_tag(Scan *s, Py_ssize_t i) {
    if (s->distrust) return distrusted_start(s, i);
    Py_ssize_t len;
    Py_ssize_t end = read_tag(s, i + 1, &len);
    const unsigned char *name = s->d + i + 1;
    Slot *slot = slot_of(s, name, len, 1);
    int kind = slot ? slot->kind : 0;
    if (end < 0) return -1;
    if (kind & FLAT_K) return end;
    if (kind & (RAW_K | PLAIN_K)) return raw_element(s, slot, name, len, i, end);
    open_element(s, slot, i, end);
    return end;
}

static Py_ssize_t end_tag_open(Scan *s, Py_ssize_t i) {
    if (i + 2 >= s->n) return -1;
    unsigned char c = s->d[i + 2];
    if (c == '>') return i + 3;
    if (!is_alpha(c)) return after_byte(s, '>', i + 2);
    Py_ssize_t len;
    Py_ssize_t end = read_tag(s, i + 2, &len);
    if (end < 0) return -1;
    close_element(s, slot_of(s, s->d + i + 2, len, 0), i, end);
    return end;
}

static Py_ssize_t declaration(Scan *s, Py_ssize_t i) {
    const unsigned char *d = s->d;
    Py_ssize_t n = s->n;
    if (i + 3 < n && d[i + 2] == '-' && d[i + 3] == '-') {
        Py_ssize_t j = i + 4;
        if (j < n && d[j] == '>') return j + 1;
        if (j + 1 < n && d[j] == '-' && d[j + 1] == '>') return j + 2;
        for (Py_ssize_t k = j; k + 2 < n; k++) {
            if (d[k] == '-' && d[k + 1] == '-') {
                if (d[k + 2] == '>') return k + 3;
                if (k + 3 < n && d[k + 2] == '!' && d[k + 3] == '>') return k + 4;
            }
        }
        return -1;
    }
    if (i + 8 < n && memcmp(d + i + 2, "[CDATA[", 7) == 0 && s->ambiguous) {
        Py_ssize_t close = find_byte(s, '>', i + 2, n);
        Py_ssize_t stop = -1;
        for (Py_ssize_t k = i + 9; k + 2 < n; k++) {
            if (d[k] == ']' && d[k + 1] == ']' && d[k + 2] == '>') { stop = k; break; }
        }
        if (close < 0 || find_byte(s, '<', close, stop < 0 ? n : stop) >= 0) {
            s->distrust = 1;
            return i + 1;
        }
        return close + 1;
    }
    return after_byte(s, '>', i + 2);
}

static PyObject *scan(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t max_depth;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*n", &view, &max_depth)) return NULL;
    Scan s = {0};
    s.d = view.buf;
    s.n = view.len;
    s.max = max_depth;
    s.since_len = -1;
    s.slots = PyMem_Calloc(SLOTS, sizeof(Slot));
    s.spans = PyList_New(0);
    if (s.slots == NULL || s.spans == NULL || seed(&s) < 0) {
        PyMem_Free(s.slots);
        Py_XDECREF(s.spans);
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    Py_ssize_t i = find_byte(&s, '<', 0, s.n);
    while (i >= 0 && i < s.n - 1 && !s.failed) {
        unsigned char c = s.d[i + 1];
        if (is_alpha(c)) i = start_tag(&s, i);
        else if (s.distrust) i = i + 1;
        else if (c == '/') i = end_tag_open(&s, i);
        else if (c == '!') i = declaration(&s, i);
        else if (c == '?') i = after_byte(&s, '>', i + 2);
        else i = i + 1;
        if (i < 0) break;
        i = find_byte(&s, '<', i, s.n);
    }
    PyMem_Free(s.slots);
    PyBuffer_Release(&view);
    if (s.failed) {
        Py_DECREF(s.spans);
        return NULL;
    }
    PyObject *result = Py_BuildValue("(nN)", s.peak, s.spans);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(data, max_depth) -> (peak, spans): see monitor.extract.nesting.scan"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_nesting",
                                    "C implementation of monitor.extract.nesting.scan",
                                    -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__nesting(void) { return PyModule_Create(&module); }
