// lepton_jpegls.c: JPEG-LS through CharLS's C API (BSD), which reports every error as a code.

#include "lepton_codecs.h"

#include <charls/charls.h>
#include <stdio.h>

static int fail(char *message, const char *what, charls_jpegls_errc code) {
    if (message) snprintf(message, 256, "%s: %s", what, charls_get_error_message(code));
    return 1;
}

int lepton_jpegls_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                         int *planar, char *message) {
    charls_jpegls_decoder *decoder = charls_jpegls_decoder_create();
    if (decoder == NULL) {
        if (message) snprintf(message, 256, "out of memory creating the JPEG-LS decoder");
        return 1;
    }
    int rc = 0;
    charls_jpegls_errc e = charls_jpegls_decoder_set_source_buffer(decoder, data, size);
    if (e != CHARLS_JPEGLS_ERRC_SUCCESS) { rc = fail(message, "JPEG-LS source", e); goto done; }
    e = charls_jpegls_decoder_read_header(decoder);
    if (e != CHARLS_JPEGLS_ERRC_SUCCESS) { rc = fail(message, "JPEG-LS header", e); goto done; }
    charls_interleave_mode mode = CHARLS_INTERLEAVE_MODE_NONE;
    e = charls_jpegls_decoder_get_interleave_mode(decoder, &mode);
    if (e != CHARLS_JPEGLS_ERRC_SUCCESS) { rc = fail(message, "JPEG-LS interleave mode", e); goto done; }
    size_t needed = 0;
    e = charls_jpegls_decoder_get_destination_size(decoder, 0, &needed);
    if (e != CHARLS_JPEGLS_ERRC_SUCCESS) { rc = fail(message, "JPEG-LS frame size", e); goto done; }
    if (needed != out_size) {
        if (message) snprintf(message, 256, "JPEG-LS frame needs %zu bytes, the DICOM header %zu", needed, out_size);
        rc = 1;
        goto done;
    }
    e = charls_jpegls_decoder_decode_to_buffer(decoder, out, out_size, 0);
    if (e != CHARLS_JPEGLS_ERRC_SUCCESS) { rc = fail(message, "JPEG-LS data", e); goto done; }
    if (planar) *planar = mode == CHARLS_INTERLEAVE_MODE_NONE ? 1 : 0;
done:
    charls_jpegls_decoder_destroy(decoder);
    return rc;
}
