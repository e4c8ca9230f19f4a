import Foundation
import Hummingbird
import LeptonDialog
import LeptonServer
import LeptonText
import LeptonVoice

/// `POST /v1/speak` {"text": "..."} -> the text spoken as a WAV file (audio/wav, 16 kHz mono),
/// as `respond --speak` speaks a reply (espeak-ng, run as a separate program; 501 without it).
/// Digit runs of 6 or more are masked before they are spoken, as everywhere else.
enum SpeakRoute {
    static func add(to router: Router<BasicRequestContext>, service: ModelService<ServeCommand.Loaded>) {
        router.post("/v1/speak") { request, _ -> Response in
            struct Spoken: Decodable { var text: String }
            let body = try await service.body(request)
            let spoken: Spoken
            do { spoken = try JSONDecoder().decode(Spoken.self, from: Data(body.readableBytesView)) } catch {
                throw ServiceError.badRequest("the body must be a JSON object {\"text\": \"...\"}")
            }
            let text = maskNumbersInText(spoken.text.trimmingCharacters(in: .whitespacesAndNewlines))
            guard !text.isEmpty else { throw ServiceError.badRequest("empty text") }
            let speaker = ReplySpeaker()
            guard speaker.programPath() != nil else {
                throw ServiceError(.notImplemented, "this service cannot speak: the espeak-ng program is not installed on its host")
            }
            let wav = try await service.workers.run { () throws -> Data in
                let url = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-speak-\(UUID().uuidString).wav")
                defer { try? FileManager.default.removeItem(at: url) }
                do { try speaker.speak(text, to: url) } catch let e as ChatError {
                    throw ServiceError(.internalServerError, "the reply could not be spoken: \(e.description.replacingOccurrences(of: url.path, with: "output"))")
                }
                return try Data(contentsOf: url)
            }
            var fields = HTTPFields()
            fields[.contentType] = "audio/wav"
            return Response(status: .ok, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: wav)))
        }
    }
}
