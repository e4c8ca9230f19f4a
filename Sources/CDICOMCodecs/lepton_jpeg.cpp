// lepton_jpeg.cpp: JPEG through DCMTK's IJG codecs (BSD). DCMTK keeps libjpeg's error_exit and its
// longjmp inside its own decode(), which returns an OFCondition: nothing unwinds through Swift.

#include "lepton_codecs.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmjpeg/djcparam.h"
#include "dcmtk/dcmjpeg/djdijg12.h"
#include "dcmtk/dcmjpeg/djdijg16.h"
#include "dcmtk/dcmjpeg/djdijg8.h"
#include "dcmtk/oflog/oflog.h"

#include <cstdio>
#include <memory>
#include <mutex>
#include <new>

static void set_message(char *message, const char *text) {
    if (message) std::snprintf(message, 256, "%s", text ? text : "unknown JPEG error");
}

extern "C" int lepton_jpeg_decode(const uint8_t *data, size_t size, int precision, int convert_ycbcr,
                                  uint8_t *out, size_t out_size, char *message) {
    // DCMTK logs corrupt-data warnings to stderr by default; the caller reports errors itself.
    static std::once_flag quiet;
    std::call_once(quiet, [] { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); });
    if (data == nullptr || size == 0 || size > 0xFFFFFFFFu || out_size > 0xFFFFFFFFu) {
        set_message(message, "empty or oversized JPEG codestream");
        return 1;
    }
    try {
        DJCodecParameter params(ECC_lossyYCbCr, convert_ycbcr ? EDC_guessLossyOnly : EDC_never, EUC_never, EPC_colorByPixel);
        std::unique_ptr<DJDecoder> decoder;
        if (precision <= 8) decoder.reset(new DJDecompressIJG8Bit(params, OFFalse));
        else if (precision <= 12) decoder.reset(new DJDecompressIJG12Bit(params, OFFalse));
        else if (precision <= 16) decoder.reset(new DJDecompressIJG16Bit(params, OFFalse));
        else {
            set_message(message, "JPEG sample precision above 16 bits");
            return 1;
        }
        OFCondition cond = decoder->init();
        if (cond.good()) {
            // decode() takes a non-const pointer but only reads the compressed buffer.
            cond = decoder->decode(const_cast<Uint8 *>(data), static_cast<Uint32>(size), out,
                                   static_cast<Uint32>(out_size), OFFalse);
        }
        if (cond.bad()) {
            set_message(message, cond.text());
            return 1;
        }
        return 0;
    } catch (const std::bad_alloc &) {
        set_message(message, "out of memory decoding JPEG");
        return 1;
    } catch (...) {
        set_message(message, "JPEG decoder failed");
        return 1;
    }
}
