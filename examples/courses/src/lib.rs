//! Course subscriptions: a rule that spans entities, as a query decider.
//!
//! A course has a capacity; a student takes at most [`STUDENT_COURSE_LIMIT`] courses.
//! Neither the course nor the student alone can enforce both rules, so the decider's
//! consistency boundary is a query: for `Subscribe`, the course's definition and
//! subscriptions (tag `course:<id>`) and the student's subscriptions (tag
//! `student:<id>`). The engine appends the decided events on condition that nothing
//! new matched that query since it was read, so two subscriptions racing for the last
//! place can never both succeed.
//!
//! Events go to the course's stream (`course-<id>`) and carry the tags of every entity
//! they concern.

use refold_guest::{Context, Query, QueryDecider, Rejection, Tagged};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The most courses one student may take at once.
pub const STUDENT_COURSE_LIMIT: usize = 5;

/// What a command is about, as the query of its events found it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Knowledge {
    /// Courses defined: capacity and name.
    courses: BTreeMap<String, Course>,
    /// Subscriptions seen: (course, student).
    subscriptions: BTreeSet<(String, String)>,
}

/// A course as its events define it.
#[derive(Debug, Serialize, Deserialize)]
struct Course {
    capacity: usize,
    name: String,
}

impl Knowledge {
    fn students_of(&self, course: &str) -> usize {
        self.subscriptions
            .iter()
            .filter(|(c, _)| c == course)
            .count()
    }

    fn courses_of(&self, student: &str) -> usize {
        self.subscriptions
            .iter()
            .filter(|(_, s)| s == student)
            .count()
    }
}

/// The commands.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum Command {
    /// Open a course with room for `capacity` students.
    DefineCourse {
        /// The course.
        course_id: String,
        /// Its name.
        name: String,
        /// How many students it takes.
        capacity: usize,
    },
    /// Give a course another name.
    RenameCourse {
        /// The course.
        course_id: String,
        /// Its new name.
        name: String,
    },
    /// Put a student on a course.
    Subscribe {
        /// The course.
        course_id: String,
        /// The student.
        student_id: String,
    },
    /// Take a student off a course.
    Unsubscribe {
        /// The course.
        course_id: String,
        /// The student.
        student_id: String,
    },
}

/// The events.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum Event {
    /// A course was opened.
    CourseDefined {
        /// The course.
        course_id: String,
        /// Its name.
        name: String,
        /// How many students it takes.
        capacity: usize,
    },
    /// A course was renamed.
    CourseRenamed {
        /// The course.
        course_id: String,
        /// Its new name.
        name: String,
    },
    /// A student was put on a course.
    StudentSubscribed {
        /// The course.
        course_id: String,
        /// The student.
        student_id: String,
    },
    /// A student was taken off a course.
    StudentUnsubscribed {
        /// The course.
        course_id: String,
        /// The student.
        student_id: String,
    },
}

const COURSE_EVENTS: &[&str] = &["CourseDefined", "CourseRenamed"];
const SUBSCRIPTIONS: &[&str] = &["StudentSubscribed", "StudentUnsubscribed"];

fn course_tag(course: &str) -> String {
    format!("course:{course}")
}

fn student_tag(student: &str) -> String {
    format!("student:{student}")
}

/// The query decider of course subscriptions.
pub struct Courses;

impl QueryDecider for Courses {
    type State = Knowledge;
    type Command = Command;
    type Event = Event;

    fn initial_state() -> Knowledge {
        Knowledge::default()
    }

    fn query(command: &Command) -> Query {
        match command {
            Command::DefineCourse { course_id, .. } | Command::RenameCourse { course_id, .. } => {
                Query::of(COURSE_EVENTS, &[&course_tag(course_id)])
            }
            Command::Subscribe {
                course_id,
                student_id,
            }
            | Command::Unsubscribe {
                course_id,
                student_id,
            } => {
                let course = course_tag(course_id);
                Query::of(COURSE_EVENTS, &[&course])
                    .or(SUBSCRIPTIONS, &[&course])
                    .or(SUBSCRIPTIONS, &[&student_tag(student_id)])
            }
        }
    }

    fn evolve(mut state: Knowledge, event: Event) -> Knowledge {
        match event {
            Event::CourseDefined {
                course_id,
                name,
                capacity,
            } => {
                state.courses.insert(course_id, Course { capacity, name });
            }
            Event::CourseRenamed { course_id, name } => {
                if let Some(course) = state.courses.get_mut(&course_id) {
                    course.name = name;
                }
            }
            Event::StudentSubscribed {
                course_id,
                student_id,
            } => {
                state.subscriptions.insert((course_id, student_id));
            }
            Event::StudentUnsubscribed {
                course_id,
                student_id,
            } => {
                state.subscriptions.remove(&(course_id, student_id));
            }
        }
        state
    }

    fn decide(
        command: Command,
        state: &Knowledge,
        _context: &Context,
    ) -> Result<Vec<Tagged<Event>>, Rejection> {
        let on_course = |course_id: &str, tags: &[&str], event| {
            Tagged::new(format!("course-{course_id}"), tags, event)
        };
        match command {
            Command::DefineCourse {
                course_id,
                name,
                capacity,
            } => {
                if state.courses.contains_key(&course_id) {
                    return Err(Rejection::new(format!("course {course_id} exists already")));
                }
                if capacity == 0 {
                    return Err(Rejection::invalid_command(
                        "a course takes at least one student",
                    ));
                }
                let tag = course_tag(&course_id);
                Ok(vec![on_course(
                    &course_id.clone(),
                    &[&tag],
                    Event::CourseDefined {
                        course_id,
                        name,
                        capacity,
                    },
                )])
            }
            Command::RenameCourse { course_id, name } => {
                if !state.courses.contains_key(&course_id) {
                    return Err(Rejection::new(format!("there is no course {course_id}")));
                }
                let tag = course_tag(&course_id);
                Ok(vec![on_course(
                    &course_id.clone(),
                    &[&tag],
                    Event::CourseRenamed { course_id, name },
                )])
            }
            Command::Subscribe {
                course_id,
                student_id,
            } => {
                let Some(course) = state.courses.get(&course_id) else {
                    return Err(Rejection::new(format!("there is no course {course_id}")));
                };
                if state
                    .subscriptions
                    .contains(&(course_id.clone(), student_id.clone()))
                {
                    return Err(Rejection::new(format!(
                        "student {student_id} takes course {course_id} already"
                    )));
                }
                if state.students_of(&course_id) >= course.capacity {
                    return Err(Rejection::new(format!(
                        "course {course_id} is full ({} students)",
                        course.capacity
                    )));
                }
                if state.courses_of(&student_id) >= STUDENT_COURSE_LIMIT {
                    return Err(Rejection::new(format!(
                        "student {student_id} takes {STUDENT_COURSE_LIMIT} courses already"
                    )));
                }
                let tags = [course_tag(&course_id), student_tag(&student_id)];
                Ok(vec![on_course(
                    &course_id.clone(),
                    &[&tags[0], &tags[1]],
                    Event::StudentSubscribed {
                        course_id,
                        student_id,
                    },
                )])
            }
            Command::Unsubscribe {
                course_id,
                student_id,
            } => {
                if !state
                    .subscriptions
                    .contains(&(course_id.clone(), student_id.clone()))
                {
                    return Err(Rejection::new(format!(
                        "student {student_id} does not take course {course_id}"
                    )));
                }
                let tags = [course_tag(&course_id), student_tag(&student_id)];
                Ok(vec![on_course(
                    &course_id.clone(),
                    &[&tags[0], &tags[1]],
                    Event::StudentUnsubscribed {
                        course_id,
                        student_id,
                    },
                )])
            }
        }
    }
}

refold_guest::export_query_decider!(Courses);
