// Course subscriptions, in JavaScript: the query decider of examples/courses, with the
// same commands, events, tags, streams and messages, so the same spec file
// (examples/courses/specs/courses.yaml) passes against both. Built by
// examples/build-polyglot.sh (QuickJS through componentize-qjs).

// The most courses one student may take at once.
const STUDENT_COURSE_LIMIT = 5;

const COURSE_EVENTS = ["CourseDefined", "CourseRenamed"];
const SUBSCRIPTIONS = ["StudentSubscribed", "StudentUnsubscribed"];

// The fields of each command's data: name and JavaScript type.
const COMMANDS = new Map([
  ["DefineCourse", [["courseId", "string"], ["name", "string"], ["capacity", "count"]]],
  ["RenameCourse", [["courseId", "string"], ["name", "string"]]],
  ["Subscribe", [["courseId", "string"], ["studentId", "string"]]],
  ["Unsubscribe", [["courseId", "string"], ["studentId", "string"]]],
]);

/** A command the decider cannot read: the `invalid-command` answer. */
class Unreadable extends Error {}

/** A business rule refused a command: the `rejected` answer. */
class Rejection extends Error {}

const courseTag = (course) => `course:${course}`;
const studentTag = (student) => `student:${student}`;

// The state is JSON: `courses` by id ({capacity, name}) and `subscriptions` as
// [course, student] pairs in the order they were made. QuickJS has no TextEncoder, so
// the engine's URI escapes do the UTF-8 work.
function encodeState(state) {
  const binary = unescape(encodeURIComponent(JSON.stringify(state)));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function decodeState(bytes) {
  let binary = "";
  for (const byte of bytes) {
    binary += String.fromCharCode(byte);
  }
  return JSON.parse(decodeURIComponent(escape(binary)));
}

function readCommand(text) {
  let command;
  try {
    command = JSON.parse(text);
  } catch (error) {
    throw new Unreadable(`the command is not JSON: ${error.message}`);
  }
  const fields = COMMANDS.get(command?.type);
  if (fields === undefined) {
    const known = [...COMMANDS.keys()].map((n) => `\`${n}\``).join(", ");
    throw new Unreadable(`unknown command type \`${command?.type}\`, expected one of ${known}`);
  }
  const data = command.data;
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new Unreadable("`data` must be a JSON object");
  }
  for (const [name, kind] of fields) {
    const value = data[name];
    const fits =
      kind === "count" ? Number.isSafeInteger(value) && value >= 0 : typeof value === kind;
    if (!fits) {
      throw new Unreadable(`field \`${name}\` must be ${kind === "count" ? "a count" : `a ${kind}`}`);
    }
  }
  return [command.type, data];
}

function queryFor(type, data) {
  const course = courseTag(data.courseId);
  if (type === "DefineCourse" || type === "RenameCourse") {
    return [{ types: COURSE_EVENTS, tags: [course] }];
  }
  return [
    { types: COURSE_EVENTS, tags: [course] },
    { types: SUBSCRIPTIONS, tags: [course] },
    { types: SUBSCRIPTIONS, tags: [studentTag(data.studentId)] },
  ];
}

function evolve(state, type, data) {
  const { courseId, studentId } = data;
  switch (type) {
    case "CourseDefined":
      state.courses[courseId] = { capacity: data.capacity, name: data.name };
      break;
    case "CourseRenamed":
      if (Object.hasOwn(state.courses, courseId)) {
        state.courses[courseId].name = data.name;
      }
      break;
    case "StudentSubscribed":
      if (!takes(state, courseId, studentId)) {
        state.subscriptions.push([courseId, studentId]);
      }
      break;
    case "StudentUnsubscribed":
      state.subscriptions = state.subscriptions.filter(
        ([c, s]) => c !== courseId || s !== studentId,
      );
      break;
    default:
      throw `an event of type ${type} is not a course event`;
  }
}

function takes(state, course, student) {
  return state.subscriptions.some(([c, s]) => c === course && s === student);
}

// The decided events of `type` with `data`, in the course's stream, with `tags`.
function onCourse(type, data, tags) {
  return [{ eventType: type, data, streamId: `course-${data.courseId}`, tags }];
}

function decide(state, type, data) {
  const { courseId, studentId } = data;
  const course = Object.hasOwn(state.courses, courseId) ? state.courses[courseId] : null;
  const both = [courseTag(courseId), studentTag(studentId)];
  switch (type) {
    case "DefineCourse":
      if (course !== null) {
        throw new Rejection(`course ${courseId} exists already`);
      }
      if (data.capacity === 0) {
        throw new Unreadable("a course takes at least one student");
      }
      return onCourse("CourseDefined", { courseId, name: data.name, capacity: data.capacity }, [
        courseTag(courseId),
      ]);
    case "RenameCourse":
      if (course === null) {
        throw new Rejection(`there is no course ${courseId}`);
      }
      return onCourse("CourseRenamed", { courseId, name: data.name }, [courseTag(courseId)]);
    case "Subscribe": {
      if (course === null) {
        throw new Rejection(`there is no course ${courseId}`);
      }
      if (takes(state, courseId, studentId)) {
        throw new Rejection(`student ${studentId} takes course ${courseId} already`);
      }
      const students = state.subscriptions.filter(([c]) => c === courseId).length;
      if (students >= course.capacity) {
        throw new Rejection(`course ${courseId} is full (${course.capacity} students)`);
      }
      const courses = state.subscriptions.filter(([, s]) => s === studentId).length;
      if (courses >= STUDENT_COURSE_LIMIT) {
        throw new Rejection(`student ${studentId} takes ${STUDENT_COURSE_LIMIT} courses already`);
      }
      return onCourse("StudentSubscribed", { courseId, studentId }, both);
    }
    default:
      if (!takes(state, courseId, studentId)) {
        throw new Rejection(`student ${studentId} does not take course ${courseId}`);
      }
      return onCourse("StudentUnsubscribed", { courseId, studentId }, both);
  }
}

/** Run `answer`; the decider's refusals become the `err` cases of `decide-error`. */
function answering(answer) {
  try {
    return answer();
  } catch (error) {
    if (error instanceof Unreadable) {
      throw { tag: "invalid-command", val: error.message };
    }
    if (error instanceof Rejection) {
      throw { tag: "rejected", val: error.message };
    }
    throw error;
  }
}

// The `refold:domain/query-decider` export. A thrown value is the `err` case of a result.
export const queryDecider = {
  initialState() {
    return encodeState({ courses: {}, subscriptions: [] });
  },

  evolve(stateBytes, events) {
    const state = decodeState(stateBytes);
    for (const event of events) {
      evolve(state, event.eventType, JSON.parse(event.data));
    }
    return encodeState(state);
  },

  queryFor(_partition, commandText) {
    return answering(() => ({ items: queryFor(...readCommand(commandText)) }));
  },

  decide(_context, stateBytes, commandText) {
    return answering(() => {
      const [type, data] = readCommand(commandText);
      return decide(decodeState(stateBytes), type, data).map((event) => ({
        eventType: event.eventType,
        data: JSON.stringify(event.data),
        metadata: undefined,
        streamId: event.streamId,
        tags: event.tags,
      }));
    });
  },
};
